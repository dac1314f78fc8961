// Matching typed words against labelled items: the command palette and
// the 404 page's search box both use it. Case and accents are ignored;
// every typed word must start a word of the label or of a keyword.

/** Lower case without accents (so "configuración" matches "configuracion"). */
export function normalize(text) {
  return String(text).normalize("NFD").replace(/\p{Diacritic}/gu, "").toLowerCase();
}

function words(text) {
  return normalize(text).split(/[^\p{L}\p{N}]+/u).filter(Boolean);
}

/**
 * The items matching `query`, best first. Each item has `label` and
 * optional `keywords` (strings). An empty query returns every item.
 */
export function rank(query, items) {
  const wanted = words(query);
  if (!wanted.length) return items.slice();
  const scored = [];
  for (const item of items) {
    const label = words(item.label);
    const extra = (item.keywords || []).flatMap(words);
    let score = 0;
    let all = true;
    for (const w of wanted) {
      if (label.some((l) => l === w)) score += 3;
      else if (label.some((l) => l.startsWith(w))) score += 2;
      else if (extra.some((k) => k.startsWith(w))) score += 1;
      else {
        all = false;
        break;
      }
    }
    if (all) scored.push({ item, score });
  }
  return scored.sort((a, b) => b.score - a.score).map((s) => s.item);
}
