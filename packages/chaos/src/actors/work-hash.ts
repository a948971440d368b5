/** FNV-1a over (i & 0xff) for i in 0..n-1: the load checks every reply against its own computation. */
export function workHash(n: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < n; i++) {
    h ^= i & 0xff;
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h >>> 0;
}
