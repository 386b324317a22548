/** Parses "15s", "500ms", "5m", "24h", "1d". A bare number is refused: units are never guessed. */
export function parseDuration(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$/.exec(text);
  if (m === null) {
    if (/^\s*0\s*$/.test(text)) return 0;
    throw new Error(`"${text}" is not a duration: write a number with a unit, e.g. 500ms, 15s, 5m, 24h`);
  }
  const scale = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }[m[2] as 'ms' | 's' | 'm' | 'h' | 'd'];
  return Math.round(Number(m[1]) * scale);
}

/** Parses "65536", "64KiB", "64k", "1MiB", "1mb" (binary multiples: 1 KiB = 1024 bytes). */
export function parseSize(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(b|k|kb|kib|m|mb|mib|g|gb|gib)?\s*$/i.exec(text);
  if (m === null) throw new Error(`"${text}" is not a size: write bytes, or a number with KiB or MiB, e.g. 64KiB`);
  const unit = (m[2] ?? 'b').toLowerCase()[0] as 'b' | 'k' | 'm' | 'g';
  return Math.round(Number(m[1]) * { b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[unit]);
}
