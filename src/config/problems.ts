import type { z } from 'zod';
import { formatPath } from './canonicalize.js';

/** zod issues as the loader reports them: `Section[0].Key: message`, the path first so people find the line. */
export function issuesToProblems(issues: readonly z.core.$ZodIssue[], prefix: readonly PropertyKey[] = []): string[] {
  return issues.map((issue) => {
    const path = formatPath([...prefix, ...issue.path]);
    return path ? `${path}: ${issue.message}` : issue.message;
  });
}
