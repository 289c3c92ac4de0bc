// Search: as-you-type prefix search over the known packages of one or every ecosystem
// (GET /v1/search), as an ARIA combobox: arrow keys move through the results, Enter opens
// one (or, with none chosen, looks the typed name up even if pkgtrust has not seen it).
import { ECOSYSTEMS, ecosystemLabel, flagBadges, getJson, packagePage, scoreBadge } from "../api.js";
import { field, h, replace } from "../dom.js";
import { navigate } from "../main.js";

const PER_ECOSYSTEM = 8;

export function renderSearch(main, _params, query) {
  document.title = "Search · pkgtrust";
  const input = h("input", {
    id: "search-name",
    type: "search",
    autocomplete: "off",
    spellcheck: "false",
    role: "combobox",
    "aria-autocomplete": "list",
    "aria-expanded": "false",
    "aria-controls": "search-results",
    value: query.get("q") || "",
  });
  const ecosystem = h(
    "select",
    { id: "search-ecosystem" },
    h("option", { value: "" }, "All ecosystems"),
    ECOSYSTEMS.map(([id, label]) => h("option", { value: id, selected: query.get("ecosystem") === id }, label)),
  );
  const status = h("p", { id: "search-status", class: "status", role: "status" });
  const list = h("ul", { id: "search-results", role: "listbox", "aria-label": "Matching packages", class: "results" });
  const form = h(
    "form",
    { role: "search", class: "search-form", onsubmit: (e) => e.preventDefault() },
    field("Package name or prefix", input, "Arrow keys choose a result; Enter opens it, or looks the typed name up."),
    field("Ecosystem", ecosystem),
  );
  main.append(
    h("h1", null, "Search packages"),
    h("p", { class: "lead" }, "Why did a package score what it did? Type the start of its name."),
    form,
    status,
    list,
  );

  let results = [];
  let active = -1;
  let timer = null;
  let sequence = 0;
  let controller = null;

  const setActive = (index) => {
    active = index;
    for (const [i, option] of [...list.children].entries()) option.setAttribute("aria-selected", String(i === active));
    if (active >= 0) {
      input.setAttribute("aria-activedescendant", `search-result-${active}`);
      list.children[active].scrollIntoView({ block: "nearest" });
    } else {
      input.removeAttribute("aria-activedescendant");
    }
  };

  const open = (result) => navigate(packagePage(result.ecosystem, result.name));

  const show = (found, prefix) => {
    results = found;
    active = -1;
    input.removeAttribute("aria-activedescendant");
    replace(
      list,
      found.map((result, i) =>
        h(
          "li",
          {
            id: `search-result-${i}`,
            role: "option",
            "aria-selected": "false",
            class: "result",
            onclick: () => open(result),
          },
          h("span", { class: "result-name" }, result.name),
          h("span", { class: "eco" }, ecosystemLabel(result.ecosystem)),
          result.status === "complete" ? scoreBadge(result.score) : h("span", { class: "state" }, result.status),
          flagBadges(result.flags),
        ),
      ),
    );
    input.setAttribute("aria-expanded", String(found.length > 0));
    status.textContent = !prefix
      ? ""
      : found.length === 0
        ? `No known package starts with \u201c${prefix}\u201d. Press Enter to look it up in ${ecosystemLabel(ecosystem.value || "npm")}.`
        : `${found.length} package${found.length === 1 ? "" : "s"} found.`;
  };

  const search = async () => {
    const prefix = input.value.trim();
    const ids = ecosystem.value ? [ecosystem.value] : ECOSYSTEMS.map(([id]) => id);
    const url = new URL(location.href);
    url.search = "";
    if (prefix) url.searchParams.set("q", prefix);
    if (ecosystem.value) url.searchParams.set("ecosystem", ecosystem.value);
    history.replaceState(null, "", url);
    const mine = ++sequence;
    if (controller) controller.abort();
    if (!prefix) return show([], "");
    controller = new AbortController();
    try {
      const answers = await Promise.all(
        ids.map((id) =>
          getJson(`/v1/search?ecosystem=${id}&limit=${PER_ECOSYSTEM}&prefix=${encodeURIComponent(prefix)}`, {
            signal: controller.signal,
          }),
        ),
      );
      if (mine !== sequence) return;
      const found = answers.flatMap((answer) => (answer.status === 200 ? answer.body.packages : []));
      const lower = prefix.toLowerCase();
      found.sort((a, b) => (b.name === lower) - (a.name === lower) || a.name.localeCompare(b.name) || a.ecosystem.localeCompare(b.ecosystem));
      show(found, prefix);
      const refused = answers.find((answer) => answer.status !== 200);
      if (refused && found.length === 0 && refused.body && refused.body.error) status.textContent = refused.body.error.message;
    } catch (error) {
      if (error.name !== "AbortError" && mine === sequence) status.textContent = `Search failed: ${error.message}`;
    }
  };

  const schedule = () => {
    clearTimeout(timer);
    timer = setTimeout(search, 120);
  };
  input.addEventListener("input", schedule);
  ecosystem.addEventListener("change", search);
  input.addEventListener("keydown", (event) => {
    if (event.key === "ArrowDown" && results.length) {
      event.preventDefault();
      setActive(Math.min(active + 1, results.length - 1));
    } else if (event.key === "ArrowUp" && results.length) {
      event.preventDefault();
      setActive(Math.max(active - 1, 0));
    } else if (event.key === "Home" && active >= 0) {
      event.preventDefault();
      setActive(0);
    } else if (event.key === "End" && active >= 0) {
      event.preventDefault();
      setActive(results.length - 1);
    } else if (event.key === "Escape") {
      input.value = "";
      show([], "");
    } else if (event.key === "Enter") {
      event.preventDefault();
      if (active >= 0) return open(results[active]);
      const name = input.value.trim();
      if (name) navigate(packagePage(ecosystem.value || "npm", name));
    }
  });
  if (input.value) search();
  input.focus({ preventScroll: true });
  return () => {
    clearTimeout(timer);
    if (controller) controller.abort();
  };
}
