import { execFileSync } from 'node:child_process';

/** Whether the tests run in CI: CI set to anything but empty, "false" or "0" (.ci/run sets CI=true). */
export function inCI(): boolean {
  const ci = process.env.CI?.trim().toLowerCase();
  return !!ci && ci !== 'false' && ci !== '0';
}

/**
 * Something a test needs is missing: in CI that is an error (.ci/run installs and provides
 * everything); locally the test is skipped with `reason`. Returns the value for node:test's `skip`.
 */
export function skipOutsideCI(reason: string): string {
  if (inCI()) throw new Error(`CI: ${reason}; .ci/run must provide it`);
  return reason;
}

/**
 * A tool a test needs. In CI the tool is installed by .ci/run, so a missing one is an error;
 * locally the test is skipped with a reason that says what to install.
 * Returns the value for node:test's `skip` option.
 */
export function needTool(command: string, debianPackage: string): false | string {
  try {
    execFileSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' });
    return false;
  } catch {
    return skipOutsideCI(`${command} not found (apt-get install ${debianPackage})`);
  }
}
