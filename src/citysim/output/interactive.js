// The interactive view of a claim check's report.html (embedded by citysim/output/interactive.py): the pickers,
// the chosen claim's and district's values, and two SVG charts, all drawn from the JSON in #explore-data.
// Strings from the data are only ever written with textContent or setAttribute, never parsed as markup.
(() => {
  "use strict";
  const SVG = document.getElementById("explore-reductions").namespaceURI; // the page names no address at all
  const WIDTH = 720; // the charts' viewBox width (px); they scale to the page
  const LEFT = 210; // room for the row labels (px)
  const RIGHT = 24;
  const TOP = 30; // room for the key (px)
  const BOTTOM = 34; // room for the axis (px)
  const data = JSON.parse(document.getElementById("explore-data").textContent);
  const pick = Object.fromEntries(["situation", "metric", "priority", "district"].map(
    (field) => [field, document.getElementById(`explore-${field}`)]));
  const tip = document.getElementById("explore-tip");

  const unique = (values) => [...new Set(values)];

  function setOptions(select, values) {
    const kept = select.value;
    select.replaceChildren(...values.map((value) => {
      const option = document.createElement("option");
      option.value = value;
      option.textContent = value;
      return option;
    }));
    if (values.includes(kept)) select.value = kept;
    select.disabled = values.length === 0;
  }

  function svgNode(name, attributes, text) {
    const node = document.createElementNS(SVG, name);
    for (const [key, value] of Object.entries(attributes)) node.setAttribute(key, String(value));
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function showValues(listId, row) {
    for (const cell of document.querySelectorAll(`#${listId} dd`)) {
      cell.textContent = row ? row.shown[cell.dataset.field] : "n/a";
    }
  }

  function showTip(event, text) {
    tip.textContent = text;
    tip.hidden = false;
    tip.style.left = `${event.pageX + 14}px`;
    tip.style.top = `${event.pageY + 14}px`;
  }

  // Round tick values spanning [low, high], about six of them.
  function ticks(low, high) {
    const raw = (high - low) / 6;
    const magnitude = 10 ** Math.floor(Math.log10(raw));
    const step = [1, 2, 5, 10].map((m) => m * magnitude).find((s) => s >= raw);
    const values = [];
    for (let value = Math.ceil(low / step) * step; value <= high + step * 1e-9; value += step) {
      values.push(Number(value.toFixed(10)));
    }
    return values;
  }

  // A linear x scale over the finite values (and zero), padded by 5 %; it draws the grid and the axis label.
  function xAxis(svg, values, height, label) {
    const finite = values.filter((v) => v !== null);
    let low = Math.min(0, ...finite);
    let high = Math.max(0, ...finite);
    const pad = (high - low) * 0.05 || 1;
    low = low < 0 ? low - pad : low;
    high += pad;
    const x = (value) => LEFT + (value - low) / (high - low) * (WIDTH - LEFT - RIGHT);
    for (const value of ticks(low, high)) {
      svg.append(svgNode("line", { x1: x(value), x2: x(value), y1: TOP, y2: height - BOTTOM,
        stroke: value === 0 ? "#444" : "#ddd" }));
      svg.append(svgNode("text", { x: x(value), y: height - BOTTOM + 14, "text-anchor": "middle" }, String(value)));
    }
    svg.append(svgNode("text", { x: (LEFT + WIDTH - RIGHT) / 2, y: height - 4, "text-anchor": "middle" }, label));
    return x;
  }

  // One chart row: a highlight band that takes the pointer, the row's label, the tooltip and the click.
  function chartRow(svg, y, rowHeight, label, chosen, tipText, onPick) {
    const row = svgNode("g", { class: "row", "data-label": label });
    row.append(svgNode("rect", { x: 0, y, width: WIDTH, height: rowHeight,
      fill: chosen ? "#e8f0f8" : "transparent" }));
    row.append(svgNode("text", { x: LEFT - 8, y: y + rowHeight / 2 + 4, "text-anchor": "end",
      "font-weight": chosen ? "bold" : "normal" }, label));
    row.addEventListener("mousemove", (event) => showTip(event, tipText));
    row.addEventListener("mouseleave", () => { tip.hidden = true; });
    row.addEventListener("click", (event) => { onPick(); showTip(event, tipText); });
    svg.append(row);
    return row;
  }

  function key(svg, entries) {
    let x = LEFT;
    for (const [colour, text, dashed] of entries) {
      svg.append(dashed
        ? svgNode("line", { x1: x, x2: x + 12, y1: 12, y2: 12, stroke: colour, "stroke-width": 2,
          "stroke-dasharray": "3 2" })
        : svgNode("rect", { x, y: 6, width: 12, height: 12, fill: colour }));
      const label = svgNode("text", { x: x + 17, y: 16 }, text);
      svg.append(label);
      x += 17 + label.getComputedTextLength() + 16;
    }
  }

  function claimTip(row) {
    const s = row.shown;
    return `${row.metric} (priority ${row.priority})\nbaseline ${s.baseline} min, smart ${s.smart} min\n`
      + `reduction ${s.reduction} (CI ${s.ci})\nclaimed ${s.claimed}: ${s.verdict}\n${s.pairs} pairs`;
  }

  function drawReductions(rows, chosen) {
    const svg = document.getElementById("explore-reductions");
    const rowHeight = 28;
    const height = TOP + rows.length * rowHeight + BOTTOM;
    svg.replaceChildren();
    svg.setAttribute("viewBox", `0 0 ${WIDTH} ${height}`);
    const x = xAxis(svg, rows.flatMap((r) => [r.reduction, r.ci_low, r.ci_high, r.claimed]), height,
      "reduction (%): 1 - smart / baseline");
    key(svg, [...Object.entries(data.colours.verdicts).map(([verdict, colour]) => [colour, verdict, false]),
      ["#000", "claimed", true]]);
    rows.forEach((r, i) => {
      const y = TOP + i * rowHeight;
      const row = chartRow(svg, y, rowHeight, r.metric, r.metric === chosen, claimTip(r), () => {
        pick.metric.value = r.metric;
        refresh();
      });
      const middle = y + rowHeight / 2;
      if (r.reduction !== null) {
        row.append(svgNode("rect", { class: "bar", x: Math.min(x(0), x(r.reduction)), y: y + 7,
          width: Math.abs(x(r.reduction) - x(0)), height: rowHeight - 14,
          fill: data.colours.verdicts[r.verdict] || data.colours.neutral }));
      }
      if (r.ci_low !== null && r.ci_high !== null) {
        row.append(svgNode("line", { x1: x(r.ci_low), x2: x(r.ci_high), y1: middle, y2: middle,
          stroke: "#222", "stroke-width": 1.5 }));
      }
      if (r.claimed !== null) {
        row.append(svgNode("line", { x1: x(r.claimed), x2: x(r.claimed), y1: y + 2, y2: y + rowHeight - 2,
          stroke: "#000", "stroke-width": 2, "stroke-dasharray": "3 2" }));
      }
    });
  }

  function districtTip(row) {
    const s = row.shown;
    return `${row.district}: arrival from the call\nbaseline ${s.baseline} min, smart ${s.smart} min\n`
      + `reduction ${s.reduction} (CI ${s.ci})\n${s.pairs} pairs, ${s.incidents} police cases per replication`;
  }

  function drawDistricts(rows, chosen) {
    const svg = document.getElementById("explore-districts");
    document.getElementById("explore-districts-part").hidden = rows.length === 0;
    const rowHeight = 30;
    const height = TOP + rows.length * rowHeight + BOTTOM;
    svg.replaceChildren();
    svg.setAttribute("viewBox", `0 0 ${WIDTH} ${height}`);
    const x = xAxis(svg, rows.flatMap((r) => [r.baseline, r.smart]), height, "mean arrival from the call (min)");
    key(svg, [[data.colours.baseline, "baseline", false], [data.colours.smart, "smart", false]]);
    rows.forEach((r, i) => {
      const y = TOP + i * rowHeight;
      const row = chartRow(svg, y, rowHeight, r.district, r.district === chosen, districtTip(r), () => {
        pick.district.value = r.district;
        refresh();
      });
      [["baseline", 5], ["smart", 15]].forEach(([config, offset]) => {
        if (r[config] !== null) {
          row.append(svgNode("rect", { class: "bar", x: x(0), y: y + offset, width: x(r[config]) - x(0),
            height: 10, fill: data.colours[config] }));
        }
      });
    });
  }

  function showServices(situation) {
    const rows = data.services.filter((r) => r.situation === situation);
    document.getElementById("explore-services-part").hidden = rows.length === 0;
    document.querySelector("#explore-services tbody").replaceChildren(...rows.map((r) => {
      const line = document.createElement("tr");
      for (const text of r.cells) {
        const cell = document.createElement("td");
        cell.textContent = text;
        line.append(cell);
      }
      return line;
    }));
  }

  // Fill each picker from the data the pickers before it allow, then show the chosen rows.
  function refresh() {
    const situation = pick.situation.value;
    const ofSituation = data.claims.filter((r) => r.situation === situation);
    setOptions(pick.priority, unique(ofSituation.map((r) => r.priority)));
    const rows = ofSituation.filter((r) => r.priority === pick.priority.value);
    setOptions(pick.metric, unique(rows.map((r) => r.metric)));
    const districts = data.districts.filter((r) => r.situation === situation);
    setOptions(pick.district, districts.map((r) => r.district));
    showValues("explore-claim", rows.find((r) => r.metric === pick.metric.value));
    showValues("explore-district", districts.find((r) => r.district === pick.district.value));
    drawReductions(rows, pick.metric.value);
    drawDistricts(districts, pick.district.value);
    showServices(situation);
  }

  setOptions(pick.situation, unique(data.claims.map((r) => r.situation)));
  for (const select of Object.values(pick)) select.addEventListener("change", refresh);
  refresh();
})();
