// Small DOM helpers: elements are built with h(), never from HTML strings, so no text a
// package or an upstream chose can become markup.

// h("a", {href: "/live", class: "x", onclick: f}, "text", child, [more]) -> element.
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") el.className = value;
    else if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2), value);
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key === "value" || key === "checked" || key === "selected") el[key] = value;
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  append(el, children);
  return el;
}

export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

export function clear(el) {
  while (el.firstChild) el.removeChild(el.firstChild);
  return el;
}

export function replace(el, ...children) {
  clear(el);
  return append(el, children);
}

// A field: label + control, the label tied to the control's id.
export function field(labelText, control, hint) {
  const hintEl = hint ? h("span", { class: "hint", id: `${control.id}-hint` }, hint) : null;
  if (hintEl) control.setAttribute("aria-describedby", hintEl.id);
  return h("div", { class: "field" }, h("label", { for: control.id }, labelText), control, hintEl);
}

export function table(caption, headers, rows, options = {}) {
  return h(
    "div",
    { class: "table-wrap", tabindex: options.scrollable ? "0" : null, role: options.scrollable ? "region" : null,
      "aria-label": options.scrollable ? caption : null },
    h(
      "table",
      { class: options.class || null },
      h("caption", { class: options.hideCaption ? "visually-hidden" : null }, caption),
      h("thead", null, h("tr", null, headers.map((text) => h("th", { scope: "col" }, text)))),
      h("tbody", null, rows),
    ),
  );
}
