// kws-demo's posterior bars, one per label. A model of many labels (make train's has 35) shows the most
// likely few first and the rest behind a toggle; a model of a few shows them all, in label order, as
// places that never move are the easiest to read when everything fits.
"use strict";

const NON_KEYWORDS = new Map([
  ["_silence_", ["silence", "_silence_: no speech, only background"]],
  ["_unknown_", ["another word", "_unknown_: speech that is none of the keywords"]],
]);
const TOP = 5; // bars shown of a sorted model until the toggle shows all
const ALL_UP_TO = TOP + 2; // a toggle that would hide one or two bars only hides them
// Re-sorted at most twice a second, by the value a bar shows (two decimals; ties keep label order): a
// word's bar comes to the top while the word is said, and labels that differ in the third decimal, which
// changes with every message, do not trade places on screen.
const RESORT_MS = 500;

const bars = { rows: [], sorted: false, all: false, percents: null, sortedAt: -Infinity };

function buildBars(labels, threshold) {
  const board = document.getElementById("bars");
  bars.rows = labels.map((label, index) => {
    const row = document.createElement("div");
    row.className = "bar" + (NON_KEYWORDS.has(label) ? " nonkeyword" : "");
    row.dataset.label = label;
    row.dataset.index = index;
    row.innerHTML = '<span class="name"></span><div class="track"><div class="fill"></div>' +
      '<div class="threshold"></div></div><span class="value">0.00</span>';
    const [name, meaning] = NON_KEYWORDS.get(label) || [label, label];
    row.querySelector(".name").textContent = name;
    row.title = meaning;
    row.querySelector(".threshold").style.left = `${threshold * 100}%`;
    return row;
  });
  board.replaceChildren(...bars.rows);
  bars.sorted = labels.length > ALL_UP_TO;
  bars.percents = null;
  const toggle = document.getElementById("all-labels");
  toggle.hidden = !bars.sorted;
  toggle.onclick = () => {
    bars.all = !bars.all;
    arrangeBars();
  };
  arrangeBars();
}

function showPosteriors(posteriors, threshold) {
  bars.percents = {};
  for (const row of bars.rows) {
    const label = row.dataset.label;
    const p = posteriors[label];
    bars.percents[label] = Math.round(p * 100);
    row.querySelector(".fill").style.width = `${p * 100}%`;
    row.querySelector(".value").textContent = (bars.percents[label] / 100).toFixed(2);
    row.classList.toggle("over", p >= threshold && !NON_KEYWORDS.has(label));
  }
  if (bars.sorted && performance.now() - bars.sortedAt >= RESORT_MS) arrangeBars();
}

// The bars in the order of the last posteriors, now (showPosteriors calls it at most every RESORT_MS;
// the toggle and the stream's end at once).
function arrangeBars() {
  const rows = [...bars.rows];
  const percents = bars.percents;
  if (bars.sorted && percents) {
    const rank = (row) => percents[row.dataset.label];
    rows.sort((a, b) => rank(b) - rank(a) || a.dataset.index - b.dataset.index);
  }
  const board = document.getElementById("bars");
  if (rows.some((row, i) => board.children[i] !== row)) board.append(...rows); // moves them, in order
  rows.forEach((row, i) => (row.hidden = bars.sorted && !bars.all && i >= TOP));
  board.classList.toggle("all", bars.sorted && bars.all);
  const toggle = document.getElementById("all-labels");
  toggle.textContent = bars.all ? `show top ${TOP}` : `show all ${rows.length} labels`;
  toggle.setAttribute("aria-expanded", bars.all);
  bars.sortedAt = performance.now();
}
