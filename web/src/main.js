// The page's router: paths the server answers with index.html (src/web/web_app.cpp
// IsPagePath) are rendered here; links marked data-nav, and any same-origin link to such a
// path, change the page without a reload.
import { renderAdoption } from "./pages/adoption.js";
import { renderCheck } from "./pages/check.js";
import { renderLive } from "./pages/live.js";
import { renderPackage } from "./pages/package.js";
import { renderSearch } from "./pages/search.js";
import { ECOSYSTEMS } from "./api.js";

const routes = [
  [/^\/(?:search)?$/, "search", () => renderSearch],
  [/^\/package\/([^/]+)\/(.+)$/, "search", () => renderPackage],
  [/^\/live$/, "live", () => renderLive],
  [/^\/check$/, "check", () => renderCheck],
  [/^\/adoption(?:\/([^/]+)\/(.+))?$/, "adoption", () => renderAdoption],
];

let cleanup = null;

function decode(part) {
  try {
    return part === undefined ? undefined : decodeURIComponent(part);
  } catch {
    return part;
  }
}

// A page's ecosystem must be one the API knows, and a name may not hold "." or ".." path
// segments (the browser would resolve them, and the page would ask the API for another path).
function valid(params) {
  const [ecosystem, name] = params;
  if (ecosystem === undefined) return true;
  if (!ECOSYSTEMS.some(([id]) => id === ecosystem)) return false;
  return !name.split("/").some((segment) => segment === "." || segment === "..");
}

function route(path) {
  for (const [pattern, section, page] of routes) {
    const match = pattern.exec(path);
    if (!match) continue;
    const params = match.slice(1).map(decode);
    return valid(params) ? { section, render: page(), params } : null;
  }
  return null;
}

export function navigate(url, { replace = false } = {}) {
  const target = new URL(url, location.href);
  if (replace) history.replaceState(null, "", target);
  else history.pushState(null, "", target);
  show({ focus: true });
}

function show({ focus }) {
  if (cleanup) cleanup();
  cleanup = null;
  const main = document.getElementById("main");
  main.replaceChildren();
  const found = route(location.pathname);
  for (const link of document.querySelectorAll("nav a[data-section]")) {
    if (found && link.dataset.section === found.section) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  if (!found) {
    document.title = "Not found · pkgtrust";
    main.append(Object.assign(document.createElement("h1"), { textContent: "No such page" }));
    return;
  }
  cleanup = found.render(main, found.params, new URLSearchParams(location.search)) || null;
  if (focus) {
    const heading = main.querySelector("h1");
    if (heading) {
      heading.setAttribute("tabindex", "-1");
      heading.focus({ preventScroll: true });
    }
    window.scrollTo(0, 0);
  }
}

document.addEventListener("click", (event) => {
  if (event.defaultPrevented || event.button !== 0 || event.metaKey || event.ctrlKey || event.shiftKey || event.altKey)
    return;
  const link = event.target.closest("a[href]");
  if (!link || link.target || link.hasAttribute("download")) return;
  const url = new URL(link.href, location.href);
  if (url.origin !== location.origin || !route(url.pathname)) return;
  // A link within this page (the skip link): the browser moves there, nothing re-renders.
  if (url.hash && url.pathname === location.pathname && url.search === location.search) return;
  event.preventDefault();
  navigate(url.pathname + url.search);
});
window.addEventListener("popstate", () => show({ focus: true }));

show({ focus: false });
// Time to interactive, as the browser test and the benchmark read it.
window.pkgtrustInteractive = performance.now();
document.documentElement.dataset.ready = "true";
