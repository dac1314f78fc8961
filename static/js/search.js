// Matching typed words against labelled items: the command palette and
// the 404 page's search box both use it. Case and accents are ignored; a
// typed word matches a word of the label (best), the start of one, or the
// start of a keyword.

/** Lower case without accents (so "configuración" matches "configuracion"). */
export function normalize(text) {
  return String(text).normalize("NFD").replace(/\p{Diacritic}/gu, "").toLowerCase();
}

function words(text) {
  return normalize(text).split(/[^\p{L}\p{N}]+/u).filter(Boolean);
}

function wordScore(w, label, extra) {
  if (label.includes(w)) return 3;
  if (label.some((l) => l.startsWith(w))) return 2;
  if (extra.some((k) => k.startsWith(w))) return 1;
  return 0;
}

/**
 * The items matching `query` with their scores, best first. Each item has
 * `label` and optional `keywords`. With `every` (the default) each typed
 * word must match; without, any word may. An empty query returns every
 * item (score 0).
 */
export function scored(query, items, { every = true } = {}) {
  const wanted = words(query);
  if (!wanted.length) return items.map((item) => ({ item, score: 0 }));
  const out = [];
  for (const item of items) {
    const label = words(item.label);
    const extra = (item.keywords || []).flatMap(words);
    const scores = wanted.map((w) => wordScore(w, label, extra));
    if (every ? scores.every(Boolean) : scores.some(Boolean)) out.push({ item, score: scores.reduce((a, b) => a + b, 0) });
  }
  return out.sort((a, b) => b.score - a.score);
}

/** The matching items, best first. */
export function rank(query, items, options) {
  return scored(query, items, options).map((s) => s.item);
}

/** The one clearly best match (its score above the next one's), or null. */
export function best(query, items, options) {
  const [first, second] = scored(query, items, options);
  if (!first || first.score === 0) return null;
  return !second || first.score > second.score ? first.item : null;
}
