// Package: the report of one package (GET /v1/packages/{ecosystem}/{name}) laid out for a
// person: the score, each reason with its effect in points, the components' facts, the
// flags with what triggered them, the version timeline (GET ...:versions), the package and
// repository facts, the last run and a refresh for admins. A package pkgtrust has not read
// yet is read now: the page shows the wait and fills in when the run finishes.
import {
  FLAG_NAMES,
  ecosystemLabel,
  errorMessage,
  formatCount,
  formatDate,
  formatEffect,
  formatScore,
  formatTime,
  getJson,
  osvPage,
  packageApi,
  packagePage,
  scoreBand,
} from "../api.js";
import { field, h, replace, table } from "../dom.js";

const TOKEN_KEY = "pkgtrust-admin-token";  // sessionStorage: kept for this tab only
const WAIT_SECONDS = 20;
const STEPS = { pending_registry: "the registry", pending_repository: "the repository", pending_score: "the score" };

export function renderPackage(main, [ecosystem, name]) {
  document.title = `${name} (${ecosystemLabel(ecosystem)}) · pkgtrust`;
  const body = h("div", { id: "package-body", "aria-busy": "true" });
  // What screen readers are told: a short line, not the whole report.
  const announce = h("p", { class: "visually-hidden", role: "status", id: "package-announce" });
  main.append(
    h("p", { class: "crumbs" }, h("a", { href: "/" }, "Search"), " / ", ecosystemLabel(ecosystem)),
    h("h1", { class: "package-name" }, name, " ", h("span", { class: "eco" }, ecosystemLabel(ecosystem))),
    announce,
    body,
  );
  const controller = new AbortController();
  let stopped = false;
  let loop = 0;  // the one polling loop that may write (a refresh starts a new one)
  // note: what the last refresh said, kept across re-renders until its run finishes.
  const state = { report: null, timeline: null, shown: null, note: "" };

  const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

  // Asks until the report is there (200), the registry has no such package (404), or the
  // page is left. A 202 means a run is under way: ask again, waiting on the server.
  // Stops on an answer that asking again cannot change (404, other 4xx but 429); waits
  // longer between questions while nothing changes (up to a minute).
  const load = async (initialWait) => {
    const mine = ++loop;
    const current = () => !stopped && mine === loop;
    let wait = initialWait;
    let pause = 1000;
    while (current()) {
      const started = Date.now();
      let result;
      try {
        result = await getJson(`${packageApi(ecosystem, name)}?wait=${wait}`, { signal: controller.signal });
      } catch (error) {
        if (!current()) return;
        showProblem(`The server could not be reached (${error.message}); trying again.`);
        await sleep(3000);
        continue;
      }
      if (!current()) return;
      if (result.status === 200) {
        const changed = !state.shown || JSON.stringify(result.body) !== state.shown;
        if (changed) {
          state.report = result.body;
          state.shown = JSON.stringify(result.body);
          await loadTimeline();
          if (!current()) return;
          showReport();
          pause = 1000;
        } else {
          pause = Math.min(pause * 2, 60000);
        }
        if (!result.body.refreshing) return;
        wait = WAIT_SECONDS;  // an older report while a run is under way: ask again for the new one
      } else if (result.status === 202) {
        if (!state.report) showPending(result.body);
        wait = WAIT_SECONDS;
      } else if (result.status === 429 || result.status >= 500) {
        showProblem(errorMessage(result));
        pause = Math.min(pause * 2, 60000);
      } else {
        body.setAttribute("aria-busy", "false");
        replace(body, h("p", { class: "notice", role: "alert" }, errorMessage(result)));
        return;
      }
      // Never ask more often than once a second (a failing upstream answers at once).
      const spent = Date.now() - started;
      if (spent < pause) await sleep(pause - spent);
    }
  };

  const loadTimeline = async () => {
    try {
      const result = await getJson(`${packageApi(ecosystem, name)}:versions?limit=100`, { signal: controller.signal });
      state.timeline = result.status === 200 ? result.body : null;
    } catch {
      state.timeline = null;
    }
  };

  const showProblem = (message) => {
    if (state.report) return;
    replace(body, h("p", { class: "notice" }, message));
  };

  const showPending = (pending) => {
    const step = STEPS[pending.status];
    replace(
      body,
      h(
        "div",
        { class: "pending", id: "package-pending" },
        h("p", null, pending.status === "failed"
          ? `The last attempt to read ${name} failed: ${pending.last_error || "no reason given"}. Trying again.`
          : `pkgtrust is reading ${name} for the first time (now: ${step || pending.status}). This page fills in when the run finishes.`),
        h("progress", { "aria-label": `Reading ${name}` }),
      ),
    );
  };

  const showReport = () => {
    const hadFocus = document.activeElement && body.contains(document.activeElement) ? document.activeElement.id : null;
    body.setAttribute("aria-busy", "false");
    if (state.note.startsWith("Refreshing") && !state.report.refreshing)
      state.note = `Refreshed: scored ${formatTime(state.report.timestamps && state.report.timestamps.scored)}.`;
    replace(body, reportView(state.report, state.timeline, { ecosystem, name, refresh, note: state.note }));
    announce.textContent = `${name}: score ${formatScore(state.report.score && state.report.score.value)} of 10${state.report.refreshing ? ", a new run is under way" : ""}.`;
    // The re-rendered report keeps the keyboard where it was (the refresh button, say).
    if (hadFocus && document.getElementById(hadFocus)) document.getElementById(hadFocus).focus();
  };

  // POST :refresh with the admin token (asked once, kept for the tab), then follow the run.
  async function refresh(statusEl, tokenForm) {
    const token = sessionStorage.getItem(TOKEN_KEY);
    if (!token) {
      tokenForm.hidden = false;
      tokenForm.querySelector("input").focus();
      return;
    }
    statusEl.textContent = "Asking for a refresh…";
    let result;
    try {
      result = await getJson(`${packageApi(ecosystem, name)}:refresh`, {
        method: "POST",
        headers: { Authorization: `Bearer ${token}` },
        signal: controller.signal,
      });
    } catch (error) {
      // A token fetch cannot send (not Latin-1) is not kept either.
      if (error.name === "TypeError") sessionStorage.removeItem(TOKEN_KEY);
      statusEl.textContent = `The refresh failed: ${error.message}`;
      return;
    }
    if (result.status === 401) {
      sessionStorage.removeItem(TOKEN_KEY);
      statusEl.textContent = "The admin token was refused; enter it again.";
      tokenForm.hidden = false;
      tokenForm.querySelector("input").focus();
      return;
    }
    if (result.status !== 202) {
      statusEl.textContent = errorMessage(result);
      return;
    }
    state.note = "Refreshing: the page updates when the run finishes.";
    statusEl.textContent = state.note;
    load(WAIT_SECONDS);
  }

  load(0);
  return () => {
    stopped = true;
    controller.abort();
  };
}

function section(title, id, ...content) {
  return h("section", { class: "card", "aria-labelledby": id }, h("h2", { id }, title), content);
}

function reportView(report, timeline, { ecosystem, name, refresh, note }) {
  const score = report.score || {};
  const pkg = report.package || {};
  return h(
    "div",
    { class: "report" },
    h("p", { class: "purl" }, report.purl, pkg.latest_version ? ` · latest ${pkg.latest_version}` : ""),
    pkg.description ? h("p", { class: "description" }, pkg.description) : null,
    h("div", { class: "summary" }, scoreCard(score), flagsCard(report, ecosystem)),
    section(
      "Why this score",
      "why-title",
      h("p", { class: "hint" }, "Each reason and its effect on the score, in points."),
      table(
        "Reasons and their effect in points",
        ["Reason", "Effect"],
        (score.explanation || []).map((entry) =>
          h(
            "tr",
            { class: "reason" },
            h("td", { class: "reason-text" }, entry.reason),
            h("td", { class: `effect ${entry.effect < 0 ? "negative" : "positive"}` }, formatEffect(entry.effect)),
          ),
        ),
        { class: "reasons", hideCaption: true },
      ),
    ),
    section(
      "Components",
      "components-title",
      h(
        "div",
        { class: "components" },
        Object.entries(score.components || {}).map(([component, detail]) =>
          h(
            "div",
            { class: "component", dataset: { component } },
            h("h3", null, component, " ", h("span", { class: "component-value" }, `${formatScore(detail.value)}/10`)),
            h("ul", null, (detail.facts || []).map((fact) => h("li", null, fact))),
          ),
        ),
      ),
    ),
    advisoriesSection(report),
    timelineSection(timeline, report),
    packageFacts(pkg),
    repositoryFacts(report.repository),
    runSection(report, refresh, note),
  );
}

function scoreCard(score) {
  return h(
    "div",
    { class: `score-card band-${scoreBand(score.value)}` },
    h("p", { class: "score-label", id: "score-label" }, "Score"),
    h("p", { class: "score-value", id: "score-value", "aria-describedby": "score-label" }, formatScore(score.value),
      h("span", { class: "score-max" }, " / 10")),
    h("meter", { min: "0", max: "10", low: "3", high: "6", optimum: "10", value: String(score.value ?? 0),
      "aria-label": `Score ${formatScore(score.value)} of 10` }),
    h("p", { class: "hint" }, "Higher is more trustworthy. Model ", score.model_version || "–", "."),
  );
}

function flagsCard(report, ecosystem) {
  const flags = report.flags || {};
  const items = [];
  if (flags.malicious)
    items.push([
      "malicious",
      flags.advisory ? ["advisory ", h("a", { href: osvPage(flags.advisory), class: "advisory-link", rel: "noreferrer" }, flags.advisory)] : "an advisory names every version",
    ]);
  if (flags.has_malicious_versions)
    items.push([
      "has_malicious_versions",
      [
        `versions ${(flags.malicious_versions || []).join(", ")}`,
        flags.latest_clean_version ? `; latest clean version ${flags.latest_clean_version}` : "",
      ],
    ]);
  if (flags.typosquatting)
    items.push([
      "typosquatting",
      [
        "looks like ",
        h("a", { href: packagePage(ecosystem, flags.looks_like), class: "looks-like" }, flags.looks_like),
        flags.looks_like_rule ? ` (${flags.looks_like_rule})` : "",
      ],
    ]);
  if (flags.deprecated) items.push(["deprecated", flags.deprecation_message || "the latest version is deprecated"]);
  if (flags.archived) items.push(["archived", "the repository is archived"]);
  if (flags.install_script_added) items.push(["install_script_added", "a recent version added an install script"]);
  if (flags.dependency_confusion)
    items.push(["dependency_confusion", `the name matches the internal pattern ${flags.internal_name_pattern || ""}`]);
  if (flags.repository_mismatch)
    items.push(["repository_mismatch", `the repository declares ${flags.repository_declares || "another package"}`]);
  return h(
    "div",
    { class: "flags-card", id: "flags" },
    h("h2", null, "Flags"),
    items.length === 0
      ? h("p", { class: "no-flags" }, "No flags.")
      : h("ul", { class: "flag-list" },
          items.map(([key, detail]) => h("li", { dataset: { flag: key } }, h("span", { class: `flag flag-${key}` }, FLAG_NAMES[key]), " ", detail))),
  );
}

function advisoriesSection(report) {
  const advisories = report.advisories || [];
  if (advisories.length === 0) return null;
  return section(
    "Advisories",
    "advisories-title",
    h("ul", { class: "advisories" },
      advisories.map((advisory) =>
        h("li", { dataset: { advisory: advisory.id } },
          h("a", { href: osvPage(advisory.id), rel: "noreferrer" }, advisory.id), ": ", advisory.summary || "",
          advisory.all_versions ? " (every version)" : advisory.versions && advisory.versions.length ? ` (versions ${advisory.versions.join(", ")})` : ""))),
  );
}

const TAG_MATCH = {
  near: "matches",
  far: "tag far from the publish",
  none: "no matching tag",
  no_tags: "the repository has no tags",
  no_repository: "no repository",
};

function timelineSection(timeline, report) {
  if (!timeline) return null;
  const rows = timeline.versions.map((v) =>
    h(
      "tr",
      { class: v.malicious ? "row-bad" : null },
      h("th", { scope: "row" }, v.version, v.latest ? h("span", { class: "tag-latest" }, " latest") : null),
      h("td", null, formatDate(v.published)),
      h("td", { class: `tag-match tag-${v.tag_match}` },
        v.tag ? `${v.tag.name}${v.tag.days_from_publish !== null ? ` (${v.tag.days_from_publish} days)` : ""}` : TAG_MATCH[v.tag_match] || v.tag_match,
        v.tag && v.tag_match === "far" ? " – far from the publish" : ""),
      h("td", null, [
        v.malicious ? h("span", { class: "flag flag-malicious" }, `malicious: ${v.advisories.join(", ")}`) : null,
        v.yanked ? h("span", { class: "flag" }, "yanked") : null,
        v.deprecated ? h("span", { class: "flag flag-deprecated", title: v.deprecated }, "deprecated") : null,
        v.attested ? h("span", { class: "flag flag-ok" }, "attested") : null,
        Object.keys(v.install_scripts || {}).length ? h("span", { class: "flag" }, "install scripts") : null,
      ]),
    ),
  );
  return section(
    "Versions",
    "versions-title",
    h("p", { class: "hint" },
      `Newest first; ${timeline.versions.length} of ${timeline.total_versions}. A version matches when a repository tag names it and was made within a week of the publish (historical provenance).`,
      timeline.repository ? ` Repository ${timeline.repository}: ${timeline.repository_tags} tags read.` : ""),
    table("Versions, publish dates and repository tags", ["Version", "Published", "Repository tag", "Notes"], rows,
      { class: "timeline", scrollable: true }),
  );
}

function facts(caption, pairs) {
  return h("dl", { class: "facts", "aria-label": caption },
    pairs.filter(([, value]) => value !== undefined).map(([term, value]) => [h("dt", null, term), h("dd", null, value ?? "–")]));
}

function packageFacts(pkg) {
  if (!pkg || !pkg.display_name) return null;
  return section("Package", "pkg-title", facts("Package facts", [
    ["License", pkg.license || "none declared"],
    ["Latest version", pkg.latest_version],
    ["Versions", formatCount(pkg.versions)],
    ["First published", formatDate(pkg.first_published)],
    ["Latest published", formatDate(pkg.latest_published)],
    ["Downloads last month", formatCount(pkg.downloads_last_month)],
    ["Maintainers", (pkg.maintainers || []).join(", ") || "–"],
    ["Declared repository", pkg.repository_declared || "none"],
  ]));
}

function repositoryFacts(repo) {
  if (!repo) return section("Repository", "repo-title", h("p", null, "The package declares no GitHub repository."));
  const manifest = repo.manifest || {};
  return section("Repository", "repo-title", facts("Repository facts", [
    ["Repository", h("a", { href: `https://github.com/${repo.full_name}`, rel: "noreferrer" }, repo.full_name)],
    ["Status", repo.status + (repo.moved ? " (moved)" : "")],
    ["Stars", formatCount(repo.stars)],
    ["Forks", formatCount(repo.forks)],
    ["Open issues", formatCount(repo.open_issues)],
    ["Archived", repo.archived ? "yes" : "no"],
    ["Fork", repo.fork ? "yes" : "no"],
    ["Created", formatDate(repo.created)],
    ["Last push", formatDate(repo.pushed)],
    ["License", repo.license || "–"],
    ["Contributors", formatCount(repo.contributors)],
    ["Commits last year", formatCount(repo.commits_last_year)],
    ["Tags", formatCount(repo.tags)],
    ["Releases", formatCount(repo.releases)],
    ["Manifest", manifest.status === "found" ? `${manifest.path} declares ${manifest.declared_name || "no name"}` : manifest.status || "–"],
    ["Read from GitHub", formatTime(repo.read_at)],
  ]));
}

function runSection(report, refresh, note) {
  const status = h("p", { class: "status", role: "status", id: "refresh-status" }, note || "");
  const tokenInput = h("input", { id: "admin-token", type: "password", autocomplete: "off", required: true });
  const tokenForm = h(
    "form",
    { class: "token-form", hidden: true, onsubmit: (event) => {
      event.preventDefault();
      sessionStorage.setItem("pkgtrust-admin-token", tokenInput.value);
      tokenInput.value = "";
      tokenForm.hidden = true;
      document.getElementById("refresh-button").focus();
      refresh(status, tokenForm);
    } },
    field("Admin token", tokenInput, "Kept for this tab only."),
    h("button", { type: "submit" }, "Refresh"),
  );
  const times = report.timestamps || {};
  return section(
    "Last run",
    "run-title",
    h("p", null, "Scored ", h("time", { datetime: times.scored || "" , id: "scored-at" }, formatTime(times.scored)),
      report.refreshing ? " · a new run is under way" : "", ". First seen ", formatTime(times.first_seen), "."),
    h("button", { type: "button", id: "refresh-button", onclick: () => refresh(status, tokenForm) }, "Refresh now"),
    tokenForm,
    status,
  );
}
