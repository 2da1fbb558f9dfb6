// One way for tests to wait for something that happens elsewhere (a bot process, a store, GitHub's
// stand-in): ask again every `everyMs` until the answer is truthy. The deadline is a safety net for a busy
// machine, never what a test measures.

export async function pollUntil<T>(
  probe: () => T | Promise<T>,
  what: string,
  { timeoutMs = 60_000, everyMs = 100 }: { timeoutMs?: number; everyMs?: number } = {},
): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value) return value as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`gave up after ${timeoutMs / 1000} s waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, everyMs));
  }
}
