// A small cookie-keeping "browser" over Node's fetch, for clicking through
// login, consent and logout pages without a real browser.
//
// - Cookies are kept like a browser keeps them for one host: by host name
//   (not port), path-scoped, removed when expired or Max-Age<=0.
// - Redirects are never followed implicitly: callers see every hop, or use
//   `follow()` which stops at a given URL prefix (e.g. a redirect_uri that
//   no server listens on).
// - Forms are read from the HTML: action, method, hidden inputs and named
//   submit buttons (including buttons outside the form with form="id").

const ENTITIES = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", '#39': "'" };

export function decodeEntities(s) {
  return s.replace(/&(#x[0-9a-f]+|#[0-9]+|[a-z]+);/gi, (m, e) => {
    if (e[0] === '#') {
      const code = e[1] === 'x' || e[1] === 'X' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10);
      return String.fromCodePoint(code);
    }
    return ENTITIES[e.toLowerCase()] ?? m;
  });
}

function attrs(tag) {
  const out = {};
  const re = /([a-zA-Z_:][-a-zA-Z0-9_:.]*)(?:\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s"'>]+)))?/g;
  // skip the tag name
  const body = tag.replace(/^<\s*[a-zA-Z]+/, '').replace(/\/?>$/, '');
  let m;
  while ((m = re.exec(body)) !== null) {
    out[m[1].toLowerCase()] = decodeEntities(m[2] ?? m[3] ?? m[4] ?? '');
  }
  return out;
}

/** All forms of a page: [{ id, action, method, fields: {name: value}, buttons: [{name, value}] }]. */
export function parseForms(html, pageUrl) {
  const forms = [];
  const formRe = /<form\b[^>]*>([\s\S]*?)<\/form>/gi;
  let m;
  while ((m = formRe.exec(html)) !== null) {
    const open = m[0].match(/^<form\b[^>]*>/i)[0];
    const a = attrs(open);
    const form = {
      id: a.id,
      action: new URL(a.action ?? pageUrl, pageUrl).href,
      method: (a.method ?? 'get').toLowerCase(),
      fields: {},
      buttons: [],
    };
    collect(m[1], form);
    forms.push(form);
  }
  // Controls outside a form that name it with form="id".
  const tagRe = /<(input|button)\b[^>]*>/gi;
  while ((m = tagRe.exec(html)) !== null) {
    const a = attrs(m[0]);
    if (!a.form) continue;
    const form = forms.find((f) => f.id === a.form);
    if (form) collect(m[0], form);
  }
  return forms;
}

function collect(fragment, form) {
  const tagRe = /<(input|button)\b[^>]*>/gi;
  let m;
  while ((m = tagRe.exec(fragment)) !== null) {
    const kind = m[1].toLowerCase();
    const a = attrs(m[0]);
    if (!a.name) continue;
    const type = (a.type ?? (kind === 'button' ? 'submit' : 'text')).toLowerCase();
    if (type === 'submit') {
      form.buttons.push({ name: a.name, value: a.value ?? '' });
    } else if (!(a.name in form.fields)) {
      form.fields[a.name] = a.value ?? '';
    }
  }
}

export class Browser {
  constructor() {
    /** @type {Map<string, {name, value, host, path, expires}>} */
    this.cookies = new Map();
    this.trace = [];
  }

  cookieHeader(url) {
    const u = new URL(url);
    const now = Date.now();
    const out = [];
    for (const [key, c] of this.cookies) {
      if (c.expires !== undefined && c.expires <= now) {
        this.cookies.delete(key);
        continue;
      }
      if (c.host !== u.hostname) continue;
      if (!(u.pathname === c.path || u.pathname.startsWith(c.path.endsWith('/') ? c.path : `${c.path}/`))) continue;
      out.push(`${c.name}=${c.value}`);
    }
    return out.join('; ');
  }

  store(url, setCookies) {
    const u = new URL(url);
    for (const line of setCookies) {
      const [pair, ...rest] = line.split(';');
      const eq = pair.indexOf('=');
      const name = pair.slice(0, eq).trim();
      const value = pair.slice(eq + 1).trim();
      let path = u.pathname.replace(/\/[^/]*$/, '') || '/';
      let expires;
      for (const attr of rest) {
        const [k, ...v] = attr.split('=');
        const key = k.trim().toLowerCase();
        const val = v.join('=').trim();
        if (key === 'path' && val.startsWith('/')) path = val;
        if (key === 'expires') expires = Date.parse(val);
        if (key === 'max-age') expires = Date.now() + Number(val) * 1000;
      }
      const k = `${u.hostname}|${path}|${name}`;
      if (expires !== undefined && expires <= Date.now()) this.cookies.delete(k);
      else this.cookies.set(k, { name, value, host: u.hostname, path, expires });
    }
  }

  async request(method, url, { form, headers = {} } = {}) {
    const h = { ...headers };
    const cookie = this.cookieHeader(url);
    if (cookie) h.cookie = cookie;
    let body;
    if (form) {
      h['content-type'] = 'application/x-www-form-urlencoded';
      body = new URLSearchParams(form).toString();
    }
    const res = await fetch(url, { method, headers: h, body, redirect: 'manual' });
    this.store(url, res.headers.getSetCookie());
    const text = await res.text();
    const loc = res.headers.get('location');
    const page = {
      url,
      status: res.status,
      headers: res.headers,
      location: loc ? new URL(loc, url).href : undefined,
      text,
    };
    this.trace.push(`${method} ${url} -> ${res.status}${page.location ? ` ${page.location}` : ''}`);
    return page;
  }

  get(url, opts) {
    return this.request('GET', url, opts);
  }

  post(url, form, opts = {}) {
    return this.request('POST', url, { ...opts, form });
  }

  /**
   * GETs `url` and follows redirects (303/302/301/307 as GET) until a page
   * that is not a redirect, or until the next location starts with `stopAt`
   * (then that location is returned without being requested).
   */
  async follow(url, { stopAt, max = 15 } = {}) {
    let page = await this.get(url);
    for (let i = 0; i < max && page.location; i++) {
      if (stopAt && page.location.startsWith(stopAt)) return { ...page, stoppedAt: page.location };
      page = await this.get(page.location);
    }
    if (page.location && !(stopAt && page.location.startsWith(stopAt))) {
      throw new Error(`too many redirects from ${url}`);
    }
    if (page.location) return { ...page, stoppedAt: page.location };
    return page;
  }

  /** Submits the form of `page` chosen by `pick` with extra `values` and the named `button`. */
  async submit(page, { pick = () => true, values = {}, button, stopAt } = {}) {
    const forms = parseForms(page.text, page.url).filter((f) => f.method === 'post').filter(pick);
    if (forms.length === 0) {
      throw new Error(`no POST form on ${page.url} (status ${page.status}):\n${page.text.slice(0, 2000)}`);
    }
    const form = forms[0];
    const data = { ...form.fields, ...values };
    if (button) {
      const b = form.buttons.find((x) => x.name === button);
      if (!b) throw new Error(`no button ${button} in form ${form.action}`);
      data[b.name] = b.value;
    }
    let res = await this.post(form.action, data);
    for (let i = 0; i < 15 && res.location; i++) {
      if (stopAt && res.location.startsWith(stopAt)) return { ...res, stoppedAt: res.location };
      res = await this.get(res.location);
    }
    return res;
  }

  dump() {
    return this.trace.join('\n');
  }
}

export function check(cond, message) {
  if (!cond) throw new Error(message);
}
