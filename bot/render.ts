/** Turning plain reply text into transport messages: HTML escaping and length-limited splitting. */

export function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

/**
 * Split plain `text` into chunks whose *rendered* length (after `render`) fits `limit`. Splits at line breaks
 * when it can, else at spaces, else anywhere (never inside a surrogate pair). Each chunk is rendered on its
 * own, so markup added by `render` is always balanced within a message.
 */
export function splitForLimit(text: string, limit: number, render: (chunk: string) => string = (s) => s): string[] {
  const fits = (chunk: string) => render(chunk).length <= limit;
  if (fits(text)) return [text];
  const chunks: string[] = [];
  let current = '';
  for (const line of text.split('\n')) {
    const candidate = current === '' ? line : `${current}\n${line}`;
    if (fits(candidate)) {
      current = candidate;
      continue;
    }
    if (current !== '') chunks.push(current);
    current = '';
    let rest = line;
    while (!fits(rest)) {
      const cut = largestFittingPrefix(rest, fits);
      chunks.push(rest.slice(0, cut));
      rest = rest.slice(cut).replace(/^ /, '');
    }
    current = rest;
  }
  if (current !== '') chunks.push(current);
  return chunks;
}

function largestFittingPrefix(text: string, fits: (s: string) => boolean): number {
  let lo = 1;
  let hi = text.length;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (fits(text.slice(0, mid))) lo = mid;
    else hi = mid - 1;
  }
  let cut = lo;
  const space = text.lastIndexOf(' ', cut);
  if (space > cut * 0.6) cut = space;
  // Do not split a UTF-16 surrogate pair.
  const code = text.charCodeAt(cut - 1);
  if (code >= 0xd800 && code <= 0xdbff && cut > 1) cut -= 1;
  return cut;
}
