// Per-platform cache entries. Each platform is its own build, so a cache
// export shared by all of them would be overwritten by whichever finished
// last; every platform gets its own scope, tag or directory instead (the
// same for cache-from and cache-to, so a later run reads what it wrote).

/** Splits `type=registry,ref=x,mode=max` into ordered key/value pairs (CSV-style quotes kept simple). */
export function parseCacheEntry(entry: string): [string, string][] {
  return entry
    .split(',')
    .filter((p) => p.trim() !== '')
    .map((p) => {
      const eq = p.indexOf('=');
      return eq < 0 ? [p.trim(), ''] : [p.slice(0, eq).trim(), p.slice(eq + 1).trim()];
    });
}

function formatCacheEntry(pairs: readonly [string, string][]): string {
  return pairs.map(([k, v]) => (v === '' ? k : `${k}=${v}`)).join(',');
}

/** `repo:tag` -> `repo:tag-<slug>`, `repo` -> `repo:<slug>` (a digest is left alone). */
function suffixRef(ref: string, slug: string): string {
  if (ref.includes('@')) return ref;
  const lastSlash = ref.lastIndexOf('/');
  const colon = ref.indexOf(':', lastSlash + 1);
  return colon < 0 ? `${ref}:${slug}` : `${ref}-${slug}`;
}

/**
 * The entry for one platform: `type=gha` gets `scope=<scope>-<slug>`,
 * `type=registry` a tag suffix, `type=local` a sub-directory; other types
 * (inline, s3, azblob, ...) are passed as given.
 */
export function platformCacheEntry(entry: string, slug: string): string {
  const pairs = parseCacheEntry(entry);
  // A bare reference is shorthand for type=registry,ref=<it>.
  if (pairs.length === 1 && pairs[0]?.[1] === '' && !entry.includes('=')) return `type=registry,ref=${suffixRef(entry, slug)}`;
  const type = pairs.find(([k]) => k === 'type')?.[1] ?? 'registry';
  const out = pairs.map(([k, v]): [string, string] => {
    if (type === 'registry' && k === 'ref') return [k, suffixRef(v, slug)];
    if (type === 'local' && (k === 'src' || k === 'dest')) return [k, `${v.replace(/\/+$/, '')}/${slug}`];
    if (type === 'gha' && k === 'scope') return [k, `${v}-${slug}`];
    return [k, v];
  });
  if (type === 'gha' && !pairs.some(([k]) => k === 'scope')) out.push(['scope', `buildkit-${slug}`]);
  return formatCacheEntry(out);
}
