// `[user@]host[:port]` as deploy.yml lists hosts; the host's spec is its name everywhere else.

const HOST_SPEC = /^(?:([a-z_][a-z0-9_.-]{0,31})@)?(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]{1,253})(?::(\d{1,5}))?$/;

export interface HostAddress {
  spec: string; // as written in deploy.yml: the host's name everywhere
  user: string | null;
  host: string;
  port: number;
}

export function parseHostSpec(spec: string): HostAddress | null {
  const match = HOST_SPEC.exec(spec);
  if (!match) return null;
  const port = match[3] ? Number(match[3]) : 22;
  if (port < 1 || port > 65535) return null;
  const host = match[2]!.startsWith('[') ? match[2]!.slice(1, -1) : match[2]!;
  return { spec, user: match[1] ?? null, host, port };
}
