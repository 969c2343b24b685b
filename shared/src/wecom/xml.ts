/**
 * A small, strict reader for WeCom's callback XML, instead of an XML library: the messages are
 * flat — `<xml>` with leaf elements holding text or CDATA — plus, in chat change events, one
 * level of list (`<MemChangeList><Item>…</Item></MemChangeList>`). Anything else (attributes,
 * DOCTYPE, comments, custom entities, deeper nesting, repeated fields) is refused, which also
 * rules out entity-expansion and external-entity tricks by construction.
 */
export class XmlError extends Error {}

/** Field name → text, or → list of texts for a one-level list element. */
export type FlatXml = Record<string, string | string[]>;

const NAME = /[A-Za-z_][A-Za-z0-9_.-]*/y;
const ENTITIES: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" };

function decodeText(s: string, at: number): string {
  return s.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[a-z]+);|&/g, (m, ent: string | undefined) => {
    if (!ent) throw new XmlError(`bare "&" at ${at}`);
    if (ent.startsWith('#x')) return String.fromCodePoint(parseInt(ent.slice(2), 16));
    if (ent.startsWith('#')) return String.fromCodePoint(parseInt(ent.slice(1), 10));
    const v = ENTITIES[ent];
    if (v === undefined) throw new XmlError(`unknown entity "${m}" at ${at}`);
    return v;
  });
}

/** Parses a WeCom callback document into its fields; throws `XmlError` saying what is wrong and where. */
export function parseFlatXml(input: string): FlatXml {
  // Long on purpose: a single-pass scanner whose steps share one cursor.
  let i = 0;
  const n = input.length;
  const ws = () => {
    while (i < n && /\s/.test(input[i] as string)) i++;
  };
  const expect = (s: string) => {
    if (!input.startsWith(s, i)) throw new XmlError(`expected "${s}" at ${i}`);
    i += s.length;
  };
  const name = (): string => {
    NAME.lastIndex = i;
    const m = NAME.exec(input);
    if (!m) throw new XmlError(`expected an element name at ${i}`);
    i += m[0].length;
    return m[0];
  };
  const openTag = (): string => {
    expect('<');
    const tag = name();
    ws();
    if (input[i] !== '>') throw new XmlError(`element <${tag}> may not have attributes (at ${i})`);
    i++;
    return tag;
  };
  const closeTag = (tag: string) => {
    expect('</');
    const got = name();
    if (got !== tag) throw new XmlError(`</${got}> closes <${tag}> at ${i}`);
    ws();
    expect('>');
  };
  /** Text and CDATA up to the next tag. */
  const text = (): string => {
    let out = '';
    while (i < n) {
      if (input.startsWith('<![CDATA[', i)) {
        const end = input.indexOf(']]>', i + 9);
        if (end < 0) throw new XmlError(`unterminated CDATA at ${i}`);
        out += input.slice(i + 9, end);
        i = end + 3;
      } else if (input[i] === '<') break;
      else {
        const next = input.indexOf('<', i);
        const stop = next < 0 ? n : next;
        out += decodeText(input.slice(i, stop), i);
        i = stop;
      }
    }
    return out;
  };

  ws();
  if (input.startsWith('<?xml', i)) {
    const end = input.indexOf('?>', i);
    if (end < 0) throw new XmlError('unterminated XML declaration');
    i = end + 2;
    ws();
  }
  if (input.startsWith('<!', i)) throw new XmlError(`DOCTYPE, comments and declarations are not accepted (at ${i})`);
  const root = openTag();
  if (root !== 'xml') throw new XmlError(`the root element must be <xml>, not <${root}>`);
  const out: FlatXml = {};
  for (;;) {
    const before = text();
    if (before.trim() !== '') throw new XmlError(`text directly inside <xml> at ${i}`);
    if (input.startsWith('</', i)) {
      closeTag('xml');
      break;
    }
    if (input.startsWith('<!', i) || input.startsWith('<?', i))
      throw new XmlError(`comments and processing instructions are not accepted (at ${i})`);
    const field = openTag();
    if (Object.hasOwn(out, field)) throw new XmlError(`<${field}> appears twice`);
    const value = text();
    if (input.startsWith('</', i)) {
      closeTag(field);
      out[field] = value;
      continue;
    }
    // A one-level list: <Field><Item>a</Item><Item>b</Item></Field>.
    if (value.trim() !== '') throw new XmlError(`<${field}> mixes text and elements`);
    const items: string[] = [];
    for (;;) {
      if (input.startsWith('</', i)) {
        closeTag(field);
        break;
      }
      if (input.startsWith('<!', i) || input.startsWith('<?', i))
        throw new XmlError(`comments and processing instructions are not accepted (at ${i})`);
      const item = openTag();
      const v = text();
      if (!input.startsWith('</', i)) throw new XmlError(`<${field}><${item}> nests too deep (at ${i})`);
      closeTag(item);
      items.push(v);
      if (text().trim() !== '') throw new XmlError(`text between list items of <${field}>`);
    }
    out[field] = items;
  }
  ws();
  if (i !== n) throw new XmlError(`content after </xml> at ${i}`);
  return out;
}
