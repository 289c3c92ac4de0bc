// Adoption: one package's downloads per version per day through the gateway
// (GET /v1/adoption/{ecosystem}/{name}) as a uPlot chart with the same figures in a table,
// the open exposure alerts (GET /v1/alerts?open=true) and the most downloaded packages
// (GET /v1/adoption/top). uPlot is loaded only here, not with the first page.
import { ECOSYSTEMS, ecosystemLabel, errorMessage, formatCount, formatTime, getJson, encodeName, packagePage } from "../api.js";
import { field, h, replace, table } from "../dom.js";
import { navigate } from "../main.js";

const SERIES = 6;  // versions drawn; the rest are summed as "other versions"
// Distinct at 3:1 contrast or more on white.
const COLORS = ["#1f4e8c", "#b3261e", "#1b7a3d", "#8a4b00", "#6a3d9a", "#00707a", "#5f6368"];
const DAY = 86400;

export function renderAdoption(main, [ecosystem, name]) {
  document.title = name ? `Adoption of ${name} · pkgtrust` : "Adoption · pkgtrust";
  const ecoSelect = h("select", { id: "adoption-ecosystem" },
    ECOSYSTEMS.map(([id, label]) => h("option", { value: id, selected: id === (ecosystem || "npm") }, label)));
  const nameInput = h("input", { id: "adoption-name", type: "text", autocomplete: "off", spellcheck: "false", required: true, value: name || "" });
  const form = h("form", { class: "filters", onsubmit: (e) => {
    e.preventDefault();
    if (nameInput.value.trim()) navigate(`/adoption/${ecoSelect.value}/${encodeName(nameInput.value.trim())}`);
  } }, field("Ecosystem", ecoSelect), field("Package", nameInput), h("button", { type: "submit" }, "Show"));
  const packageSection = h("section", { id: "adoption-package" });
  const alerts = h("section", { class: "card", id: "adoption-alerts", "aria-labelledby": "alerts-title" }, h("h2", { id: "alerts-title" }, "Open exposure alerts"), h("p", null, "Loading…"));
  const top = h("section", { class: "card", id: "adoption-top", "aria-labelledby": "top-title" }, h("h2", { id: "top-title" }, "Most downloaded, last 30 days"), h("p", null, "Loading…"));
  main.append(
    h("h1", null, name ? `Adoption of ${name}` : "Adoption"),
    h("p", { class: "lead" }, "Downloads through the gateway: who uses which version, and who installed a package that was just flagged."),
    form, packageSection, alerts, top,
  );

  const controller = new AbortController();
  let chart = null;
  const onResize = () => { if (chart) chart.setSize(chartSize(chart.root.parentElement)); };
  window.addEventListener("resize", onResize);

  (async () => {
    try {
      const [alertAnswer, topAnswer] = await Promise.all([
        getJson("/v1/alerts?open=true&limit=100", { signal: controller.signal }),
        getJson("/v1/adoption/top?limit=20", { signal: controller.signal }),
      ]);
      if (controller.signal.aborted) return;
      showAlerts(alerts, alertAnswer);
      showTop(top, topAnswer);
      if (ecosystem && name) {
        const answer = await getJson(`/v1/adoption/${ecosystem}/${encodeName(name)}`, { signal: controller.signal });
        if (controller.signal.aborted) return;
        if (answer.status !== 200) return replace(packageSection, h("p", { class: "notice" }, errorMessage(answer)));
        chart = await showPackage(packageSection, answer.body, controller.signal);
      }
    } catch (error) {
      if (error.name !== "AbortError") replace(packageSection, h("p", { class: "notice" }, `Loading failed: ${error.message}`));
    }
  })();
  return () => {
    controller.abort();
    window.removeEventListener("resize", onResize);
    if (chart) chart.destroy();
  };
}

function chartSize(container) {
  const width = Math.max(280, (container && container.clientWidth) || 600);
  return { width, height: Math.round(Math.min(360, Math.max(220, width * 0.45))) };
}

function showAlerts(section, answer) {
  const heading = section.querySelector("h2");
  if (answer.status !== 200) return replace(section, heading, h("p", { class: "notice" }, errorMessage(answer)));
  const list = answer.body.alerts || [];
  replace(section, heading, list.length === 0 ? h("p", null, "No open alerts.") : table("Open exposure alerts", ["Package", "Reason", "Versions", "Downloads", "Origins", "Last download", "Raised"],
    list.map((alert) => h("tr", { class: "row-bad", dataset: { alert: alert.id } },
      h("th", { scope: "row" }, h("a", { href: packagePage(alert.ecosystem, alert.name) }, alert.name), " ", h("span", { class: "eco" }, ecosystemLabel(alert.ecosystem))),
      h("td", null, alert.reason, alert.detail ? ` (${alert.detail})` : ""),
      h("td", null, (alert.versions || []).map((v) => v.version).join(", ")),
      h("td", null, formatCount(alert.downloads)),
      h("td", null, formatCount(alert.origins)),
      h("td", null, formatTime(alert.last_download_at)),
      h("td", null, formatTime(alert.created_at)))), { hideCaption: true, scrollable: true }));
}

function showTop(section, answer) {
  const heading = section.querySelector("h2");
  if (answer.status !== 200) return replace(section, heading, h("p", { class: "notice" }, errorMessage(answer)));
  const list = answer.body.packages || [];
  replace(section, heading, list.length === 0 ? h("p", null, "No downloads through the gateway yet.") : table("Most downloaded packages", ["Package", "Downloads", "Origin-days", "Metadata requests"],
    list.map((entry) => h("tr", null,
      h("th", { scope: "row" }, h("a", { href: `/adoption/${entry.ecosystem}/${encodeName(entry.name)}` }, entry.name), " ", h("span", { class: "eco" }, ecosystemLabel(entry.ecosystem))),
      h("td", null, formatCount(entry.downloads)),
      h("td", null, formatCount(entry.origin_days)),
      h("td", null, formatCount(entry.metadata)))), { hideCaption: true }));
}

async function showPackage(section, report, signal) {
  const versions = [...(report.versions || [])].sort((a, b) => b.downloads - a.downloads);
  const drawn = versions.slice(0, SERIES);
  const rest = versions.slice(SERIES);
  const start = Date.parse(`${report.from}T00:00:00Z`) / 1000;
  const end = Date.parse(`${report.to}T00:00:00Z`) / 1000;
  const days = [];
  for (let t = start; t <= end; t += DAY) days.push(t);
  const index = new Map(days.map((t, i) => [new Date(t * 1000).toISOString().slice(0, 10), i]));
  const seriesOf = (list) => {
    const values = new Array(days.length).fill(0);
    for (const version of list) for (const day of version.days || []) if (index.has(day.day)) values[index.get(day.day)] += day.downloads;
    return values;
  };
  const data = [days, ...drawn.map((v) => seriesOf([v]))];
  const labels = drawn.map((v) => v.version);
  if (rest.length) { data.push(seriesOf(rest)); labels.push("other versions"); }
  const totals = report.totals || {};
  const chartBox = h("div", { class: "chart", id: "adoption-chart", role: "img",
    "aria-label": `Downloads per day of ${report.name}, by version: ${labels.join(", ")}` });
  replace(
    section,
    h("div", { class: "card" },
      h("h2", null, `${report.name} `, h("span", { class: "eco" }, ecosystemLabel(report.ecosystem)), ` · ${report.from} to ${report.to}`),
      h("p", null, `${formatCount(totals.downloads)} downloads, ${formatCount(totals.origin_days)} origin-days, ${formatCount(totals.metadata)} metadata requests. `,
        h("a", { href: packagePage(report.ecosystem, report.name) }, "Score and flags")),
      versions.length === 0 ? h("p", null, "No downloads in these days.") : chartBox,
      versions.length === 0 ? null : table("Downloads per version", ["Version", "Major", "Downloads"],
        versions.map((v) => h("tr", null, h("th", { scope: "row" }, v.version), h("td", null, v.major), h("td", null, formatCount(v.downloads)))),
        { class: "versions-table" }),
      (report.majors || []).length === 0 ? null : table("Major versions", ["Major", "Downloads", "First published", "Days to half of the downloads"],
        report.majors.map((m) => h("tr", null, h("th", { scope: "row" }, m.major), h("td", null, formatCount(m.downloads)),
          h("td", null, formatTime(m.first_published)), h("td", null, m.days_to_half ?? "not yet")))),
    ),
  );
  if (versions.length === 0) return null;
  const { default: uPlot } = await import("uplot");
  if (signal.aborted) return null;  // the page was left while the chart's code loaded
  return new uPlot(
    {
      ...chartSize(chartBox),
      scales: { x: { time: true } },
      axes: [{}, { label: "downloads per day" }],
      series: [{ label: "day" }, ...labels.map((label, i) => ({ label, stroke: COLORS[i % COLORS.length], width: 2, points: { show: true, size: 5 } }))],
    },
    data,
    chartBox,
  );
}
