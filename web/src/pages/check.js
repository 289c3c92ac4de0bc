// Check: a lockfile, manifest or SBOM dropped, chosen or pasted here is sent to
// POST /v1/check and its findings shown, worst first (the same document as
// `pkgtrust check --json`; docs/check.md).
import { errorMessage, getJson, packagePage, scoreBadge } from "../api.js";
import { field, h, replace, table } from "../dom.js";

const KNOWN_NAMES = [
  "package-lock.json", "npm-shrinkwrap.json", "yarn.lock", "pnpm-lock.yaml", "bun.lock", "requirements.txt",
  "poetry.lock", "Pipfile.lock", "uv.lock", "pdm.lock", "pylock.toml", "Cargo.lock", "go.mod", "go.sum",
  "pom.xml", "gradle.lockfile", "bom.json", "sbom.spdx.json",
];
const CONCERNS = ["malicious", "typosquat", "yanked", "deprecated", "too_new", "low_score", "pending", "missing"];
const SHOWN_ROWS = 300;

// The purl's ecosystem and name, for a link to the package's page.
function pageOfPurl(purl) {
  const bare = (purl || "").split(/[?#]/)[0];  // no qualifiers or subpath
  const match = /^pkg:([^/]+)\/(.+?)(?:@[^@/]*)?$/.exec(bare);
  if (!match) return null;
  const ecosystem = { npm: "npm", pypi: "pypi", cargo: "crates", maven: "maven", golang: "go" }[match[1]];
  if (!ecosystem) return null;
  let name;
  try {
    name = decodeURIComponent(match[2]);
  } catch {
    return null;
  }
  if (ecosystem === "maven") name = name.replace("/", ":");
  return packagePage(ecosystem, name);
}

export function renderCheck(main) {
  document.title = "Check a lockfile · pkgtrust";
  const fileInput = h("input", { id: "check-file", type: "file", class: "visually-hidden" });
  const filename = h("input", { id: "check-filename", type: "text", list: "check-names", autocomplete: "off", spellcheck: "false", required: true, placeholder: "package-lock.json" });
  const text = h("textarea", { id: "check-text", rows: "10", spellcheck: "false", required: true });
  const minScore = h("input", { id: "check-min-score", type: "number", min: "0", max: "10", step: "0.1", inputmode: "decimal" });
  const concerns = CONCERNS.map((concern) =>
    h("div", { class: "field checkbox" },
      h("input", { id: `check-fail-${concern}`, type: "checkbox", value: concern, checked: concern === "malicious" || concern === "typosquat" }),
      h("label", { for: `check-fail-${concern}` }, concern.replace("_", " "))));
  const result = h("div", { id: "check-result" });
  const announce = h("p", { class: "visually-hidden", role: "status", id: "check-announce" });
  const drop = h(
    "div",
    { id: "check-drop", class: "drop-zone" },
    h("p", null, "Drop a lockfile, manifest or SBOM here, or ", fileInput, h("label", { for: "check-file", class: "file-button" }, "choose a file"), "."),
  );
  const form = h(
    "form",
    { id: "check-form", class: "check-form", onsubmit: (event) => { event.preventDefault(); run(); } },
    field("File name (says the format)", filename, "package-lock.json, poetry.lock, Cargo.lock, bom.json, …"),
    h("datalist", { id: "check-names" }, KNOWN_NAMES.map((name) => h("option", { value: name }))),
    field("Contents", text),
    h("fieldset", { class: "concerns" }, h("legend", null, "Fail on"), concerns),
    field("Minimum score (optional)", minScore),
    h("button", { type: "submit", id: "check-submit" }, "Check"),
  );
  main.append(
    h("h1", null, "Check a lockfile"),
    h("p", { class: "lead" }, "Every locked package judged against the policy, as pkgtrust check does in CI."),
    drop, form, announce, result,
  );

  const controller = new AbortController();
  let sequence = 0;  // only the latest check may show its answer
  const load = async (file) => {
    if (!file) return;
    filename.value = file.name.replace(/ \(\d+\)(?=\.)/, "");
    text.value = await file.text();
    run();
  };
  fileInput.addEventListener("change", () => load(fileInput.files[0]));
  drop.addEventListener("dragover", (event) => { event.preventDefault(); drop.classList.add("dragging"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("dragging"));
  drop.addEventListener("drop", (event) => {
    event.preventDefault();
    drop.classList.remove("dragging");
    load(event.dataTransfer && event.dataTransfer.files[0]);
  });

  async function run() {
    if (!filename.value.trim() || !text.value) {
      replace(result, h("p", { class: "notice" }, "Give the file's name and its contents."));
      return;
    }
    const params = new URLSearchParams({ filename: filename.value.trim(), wait: "10" });
    const failOn = concerns.map((c) => c.querySelector("input")).filter((i) => i.checked).map((i) => i.value);
    params.set("fail_on", failOn.join(","));
    if (minScore.value !== "") params.set("min_score", minScore.value);
    replace(result, h("p", { class: "status" }, h("progress", { "aria-label": "Checking" }), " Checking…"));
    announce.textContent = "Checking…";
    const mine = ++sequence;
    let answer;
    try {
      answer = await getJson(`/v1/check?${params}`, { method: "POST", body: text.value, signal: controller.signal });
    } catch (error) {
      if (error.name !== "AbortError" && mine === sequence)
        replace(result, h("p", { class: "notice" }, `The check failed: ${error.message}`));
      return;
    }
    if (mine !== sequence || controller.signal.aborted) return;
    if (answer.status !== 200 || !answer.body) {
      announce.textContent = "";
      return replace(result, h("p", { class: "notice", role: "alert" }, errorMessage(answer)));
    }
    showResult(answer.body);
  }

  function showResult(doc) {
    const summary = doc.summary || {};
    const deps = doc.dependencies || [];
    const rows = (all) => (all ? deps : deps.slice(0, SHOWN_ROWS)).map((dep) => {
      const page = pageOfPurl(dep.purl);
      return h("tr", { class: dep.fails ? "row-bad" : null, dataset: { purl: dep.purl } },
        h("th", { scope: "row" }, page ? h("a", { href: page }, dep.purl) : dep.purl),
        h("td", null, dep.line ? `${dep.file}:${dep.line}` : dep.file),
        h("td", null, dep.fails ? h("strong", null, "fails") : dep.outcome),
        h("td", null, typeof dep.score === "number" ? scoreBadge(dep.score) : "–"),
        h("td", null, h("ul", { class: "findings" }, (dep.findings || []).map((f) =>
          h("li", { class: f.fails ? "finding-fails" : null }, h("span", { class: "concern" }, f.concern), " ", f.message)))));
    });
    const body = h("tbody", null, rows(false));
    const tableEl = table("Dependencies, worst first", ["Package", "Where", "Verdict", "Score", "Findings"], [], { class: "findings-table", scrollable: true });
    tableEl.querySelector("tbody").replaceWith(body);
    replace(
      result,
      h("p", { class: `verdict ${doc.passed ? "passed" : "failed"}`, id: "check-verdict" },
        doc.passed ? "Passed" : "Failed",
        `: ${summary.failing ?? 0} of ${summary.dependencies ?? deps.length} dependencies fail the policy`,
        summary.pending ? `, ${summary.pending} pending` : "", "."),
      (doc.errors || []).length ? h("ul", { class: "errors" }, doc.errors.map((e) => h("li", null, typeof e === "string" ? e : e.message || JSON.stringify(e)))) : null,
      tableEl,
      deps.length > SHOWN_ROWS ? h("button", { type: "button", onclick: (e) => { body.replaceWith(h("tbody", null, rows(true))); e.target.remove(); } }, `Show all ${deps.length}`) : null,
    );
    announce.textContent = result.querySelector("#check-verdict").textContent;
    result.scrollIntoView({ block: "start", behavior: "smooth" });
  }

  return () => controller.abort();
}
