// Host output as the log page shows it: secrets redacted, and bounded (the head and the tail of a long
// output are kept, the middle is dropped with a marker), so a chatty deploy cannot exhaust memory.

const REDACTED = '[redacted]';

/** Every form a secret can take in output: raw, base64 (of the value) and JSON-escaped. */
export function secretForms(secrets: string[]): string[] {
  const forms = new Set<string>();
  for (const secret of secrets) {
    if (secret.length < 4) continue; // too short to redact without destroying ordinary text
    forms.add(secret);
    forms.add(Buffer.from(secret).toString('base64').replace(/=+$/, ''));
    forms.add(JSON.stringify(secret).slice(1, -1));
    for (const line of secret.split('\n')) if (line.trim().length >= 8) forms.add(line.trim());
  }
  return [...forms].sort((a, b) => b.length - a.length);
}

export function redact(text: string, forms: string[]): string {
  let result = text;
  for (const form of forms) result = result.split(form).join(REDACTED);
  return result;
}

/**
 * Splits a stream into whole lines before redacting, so a secret cut across two chunks is still caught.
 * A line longer than `maxLine` is flushed as it is.
 */
export class RedactingLineStream {
  private pending = '';
  private readonly forms: string[];
  private readonly emit: (text: string) => void;
  private readonly maxLine: number;

  constructor(secrets: string[], emit: (text: string) => void, maxLine = 16_384) {
    this.forms = secretForms(secrets);
    this.emit = emit;
    this.maxLine = maxLine;
  }

  write(chunk: string): void {
    this.pending += chunk;
    const lastNewline = this.pending.lastIndexOf('\n');
    if (lastNewline >= 0) {
      this.emit(redact(this.pending.slice(0, lastNewline + 1), this.forms));
      this.pending = this.pending.slice(lastNewline + 1);
    }
    if (this.pending.length > this.maxLine) this.flush();
  }

  flush(): void {
    if (this.pending) this.emit(redact(this.pending, this.forms));
    this.pending = '';
  }
}

/** Keeps the first and last `half` characters of everything appended. */
export class BoundedText {
  private head = '';
  private tail = '';
  private dropped = 0;
  private readonly half: number;

  constructor(limit = 64 * 1024) {
    this.half = Math.floor(limit / 2);
  }

  append(text: string): void {
    if (this.head.length < this.half) {
      const room = this.half - this.head.length;
      this.head += text.slice(0, room);
      text = text.slice(room);
    }
    if (!text) return;
    this.tail += text;
    if (this.tail.length > this.half) {
      this.dropped += this.tail.length - this.half;
      this.tail = this.tail.slice(-this.half);
    }
  }

  toString(): string {
    return this.dropped ? `${this.head}\n… ${this.dropped} characters dropped …\n${this.tail}` : this.head + this.tail;
  }
}
