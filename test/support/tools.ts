import { execFileSync } from 'node:child_process';

/**
 * A tool a test needs. In CI (CI=true) the tool is installed by .ci/run, so a missing one is an
 * error; locally the test is skipped with a reason that says what to install.
 * Returns the value for node:test's `skip` option.
 */
export function needTool(command: string, debianPackage: string): false | string {
  try {
    execFileSync('sh', ['-c', `command -v ${command}`], { stdio: 'ignore' });
    return false;
  } catch {
    const reason = `${command} not found (apt-get install ${debianPackage})`;
    if (process.env.CI === 'true') throw new Error(`CI: ${reason}; .ci/run must install it`);
    return reason;
  }
}
