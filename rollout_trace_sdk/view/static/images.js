// Images: an item's image parts as links and thumbnails, and an opened payload's image above
// its text. An item names the payload that holds each image (view/images.py: `it.im`, each
// [label, payload id, key]); the payload is read when the item comes into view or the image
// is opened, never at load. Only data: URLs of PNG, JPEG, GIF and WebP are drawn: never an SVG
// (it can carry script) or any other type, and never a remote URL (the page fetches nothing
// from the network, its CSP allows data: images only).
const IMG_URL = /^data:image\/(png|jpeg|gif|webp);base64,([A-Za-z0-9+/]+={0,2})$/;
// A generated image's `result` is bare base64: its first bytes say its type.
const IMG_MAGIC = [["iVBORw0KGgo", "png"], ["/9j/", "jpeg"], ["R0lGOD", "gif"], ["UklGR", "webp"]];
const IMG_CUT = "image cut by a capture limit: not drawn";

// What an image URL is drawn as: {src} for a data: URL of an allowed type, {why, url} for one
// that is not drawn, null for a value that is no image URL at all.
function imageOf(url) {
  if (typeof url !== "string") return null;
  const m = IMG_URL.exec(url);
  if (m && m[2].length % 4 === 0) return { src: url };
  if (/^https?:\/\//i.test(url)) return { why: "remote image, not fetched", url };
  const data = /^data:([^;,]*)/i.exec(url);
  if (data) return { why: `${data[1] || "untyped"} data URL: not drawn as an image (only PNG, JPEG, GIF and WebP are)`, url: url.slice(0, 120) + (url.length > 120 ? "…" : "") };
  return null;
}
// An image element's URL: a JSON string, or an object's `image_url` (a string or {url}) or `url`.
function urlOf(v) {
  if (typeof v === "string") return v;
  if (!v || typeof v !== "object") return null;
  let u = v.image_url !== undefined ? v.image_url : v.url;
  if (u && typeof u === "object") u = u.url;
  return typeof u === "string" ? u : null;
}
function generatedOf(o) {
  const kind = IMG_MAGIC.find(([head]) => o.result.startsWith(head));
  return kind ? imageOf(`data:image/${kind[1]};base64,${o.result}`) : { why: "generated image of an unknown type: not drawn" };
}

// The element's canonical JSON (keys sorted at every depth, compact) as the reducer hashes it
// for `content_sha256`; its numbers lose their original text here, so a hash may not match
// (then a payload's only candidate is taken, and several say they could not be told apart).
function canon(v) {
  if (Array.isArray(v)) return "[" + v.map(canon).join(",") + "]";
  if (v && typeof v === "object") return "{" + Object.keys(v).sort().map((k) => JSON.stringify(k) + ":" + canon(v[k])).join(",") + "}";
  return JSON.stringify(v);
}
async function sha256(text) {
  if (!(window.crypto && crypto.subtle)) return null;
  const d = new Uint8Array(await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text)));
  return Array.from(d, (b) => b.toString(16).padStart(2, "0")).join("");
}

// The image `ref` ([label, payload id, key]) stands for inside a payload's parsed body; with
// no ref, the body itself as an image (a data: URL string, or an object's image_url / url).
async function findImage(value, ref) {
  if (!ref) return imageOf(urlOf(value));
  const [label, , key] = ref, found = [], stack = [value];
  if (typeof value === "string") return imageOf(value);  // a payload holding the image alone
  while (stack.length) {
    const o = stack.pop();
    if (!o || typeof o !== "object") continue;
    if (Array.isArray(o)) { for (let k = o.length - 1; k >= 0; k--) stack.push(o[k]); continue; }
    if (label === "image_generation_call") {
      if (o.type === label && o.id === key && typeof o.result === "string") return generatedOf(o);
    } else if (o.type === label) { found.push(o); continue; }
    for (const k of Object.keys(o).reverse()) stack.push(o[k]);
  }
  if (found.length === 1) return imageOf(urlOf(found[0])) || { why: "no image URL in it" };
  for (const o of key ? found : []) if ((await sha256(canon(o))) === key) return imageOf(urlOf(o)) || { why: "no image URL in it" };
  return { why: found.length ? `could not tell which of its ${found.length} images this is` : "no image found in its payload" };
}

// A payload's text and parsed body, the last few kept: an item's thumbnails and its opened
// payload read the same request once.
function parsedPayload(id) {
  S.parsed = S.parsed || new Map();
  let p = S.parsed.get(id);
  if (!p) {
    p = payloadText(id).then((text) => { let value; try { value = JSON.parse(text); } catch (e) { value = undefined; } return { text, value }; });
    p.catch(() => S.parsed.delete(id));
    S.parsed.set(id, p);
    if (S.parsed.size > 4) S.parsed.delete(S.parsed.keys().next().value);
  }
  return p;
}
// The image a ref stands for, or why none is drawn (a payload a capture limit cut never is).
async function imageFor(ref) {
  const info = S.m.payloads[ref[1]];
  if (info && info[2]) return { why: IMG_CUT };
  const { value } = await parsedPayload(ref[1]);
  return value === undefined ? { why: "its payload is not JSON" } : await findImage(value, ref);
}

// An image part in an item's text, `[input_image raw_payload:7]`, links to its payload. The
// parts of one message often name the same payload (its request): the n-th such text is the
// n-th image part (`at.k`, the next one to match, carried from one stretch of text to the next).
const IMG_REF = /\[(\w+) (raw_payload:\d+)\]/g;
function hlImages(text, it, ix, at) {
  const im = it && it.im;
  if (!im) return hl(text);
  let out = "", i = 0;
  for (const mt of text.matchAll(IMG_REF)) {
    let k = at.k;
    while (k < im.length && !(im[k][0] === mt[1] && im[k][1] === mt[2])) k++;
    if (k >= im.length) continue;
    at.k = k + 1;
    out += hl(text.slice(i, mt.index)) + payloadLink(mt[2], mt[1], hl(mt[0]), "link", ` data-img="${ix}:${k}"`);
    i = mt.index + mt[0].length;
  }
  return out + hl(text.slice(i));
}
function thumbsHtml(it, ix) {
  if (!it.im) return "";
  return `<div class="thumbs">` + it.im.map(([label, id], k) =>
    payloadLink(id, label, `<span class="muted">${esc(label.replace(/_/g, " "))} · ${esc(id)}</span>`, "thumb", ` data-img="${ix}:${k}"`)).join("") + `</div>`;
}
function refOf(el) {
  const [ix, k] = (el.dataset.img || "").split(":");
  const it = S.m.items[+ix];
  return it && it.im ? it.im[+k] || null : null;
}

// The image drawn in `box` (a thumbnail or the payload view), or why not, as text.
function drawImage(box, res, alt) {
  if (res && res.src) {
    const img = document.createElement("img");
    img.alt = alt;
    img.onload = () => { if (img.naturalWidth < 64 && img.naturalHeight < 64) img.classList.add("tiny"); };
    img.onerror = () => { box.textContent = "image could not be decoded"; box.classList.add("muted"); };
    img.src = res.src;
    box.replaceChildren(img);
  } else {
    box.innerHTML = `<span class="muted">${esc(res ? res.why : "no image")}</span>` + (res && res.url ? ` <span class="mono">${esc(res.url)}</span>` : "");
  }
}

// Thumbnails load when their item is drawn on screen (items off screen are not rendered).
function watchThumbs(root) {
  const thumbs = root.querySelectorAll(".thumb:not([data-seen])");
  if (!thumbs.length) return;
  if (!S.thumbObs) {
    S.thumbObs = new IntersectionObserver((entries) => {
      for (const e of entries) {
        if (!e.isIntersecting) continue;
        S.thumbObs.unobserve(e.target);
        const ref = refOf(e.target), box = e.target;
        if (ref) imageFor(ref).then((res) => drawImage(box, res, ref[0]), (err) => drawImage(box, { why: String(err.message || err) }, ref[0]));
      }
    }, { root: $("detail-pane"), rootMargin: "200px" });
  }
  for (const el of thumbs) { el.dataset.seen = "1"; S.thumbObs.observe(el); }
}

// Above an opened payload's text: the image the link or thumbnail stands for, else the body
// as an image when it is one; null when it holds none.
async function payloadImage(id, value, btn) {
  const ref = btn.dataset.img ? refOf(btn) : null;
  const info = S.m.payloads[id];
  if (info && info[2]) return ref ? { why: IMG_CUT } : null;
  if (value === undefined) return ref ? { why: "its payload is not JSON" } : null;
  return findImage(value, ref);
}
function payloadImageBox(res, alt) {
  if (!res) return null;
  const box = document.createElement("div");
  box.className = res.src ? "payload-image" : "note";
  box.dataset.testid = "payload-image";
  drawImage(box, res, alt);
  return box;
}
