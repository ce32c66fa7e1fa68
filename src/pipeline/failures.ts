// A platform that did not get through a phase, and the one message that names them all.
export interface PlatformFailure {
  platform: string;
  message: string;
}

/** One line group per distinct message: a shared cause (e.g. no trivy DB) is said once. */
export function describeFailures(failures: readonly PlatformFailure[]): string {
  const byMessage = new Map<string, string[]>();
  for (const f of failures) byMessage.set(f.message, [...(byMessage.get(f.message) ?? []), f.platform]);
  return [...byMessage].map(([message, platforms]) => `${platforms.join(', ')}: ${message}`).join('\n');
}
