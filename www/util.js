// Small helpers of the POS screen: building DOM nodes, keys, times, money
// display. No rule of posflow lives here.

/** `el("td", { className, dataset: { field } }, child, …)` */
export function el(tag, { dataset = {}, ...props } = {}, ...children) {
  const node = Object.assign(document.createElement(tag), props);
  Object.assign(node.dataset, dataset);
  node.append(...children.filter((c) => c !== null && c !== undefined && c !== false));
  return node;
}

export const $ = (id) => document.getElementById(id);

/**
 * A caller key for one command (Rule 9): one per attempt, never reused.
 * crypto.randomUUID needs a secure context, which an Android WebView that
 * loads from file:// may not be; getRandomValues is everywhere.
 */
export function newKey(prefix) {
  const bytes = new Uint8Array(12);
  crypto.getRandomValues(bytes);
  return `${prefix}-${Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")}`;
}

const pad = (n, w = 2) => String(n).padStart(w, "0");

/** `2025-01-31 14:05:09` in the browser's time zone. */
export function formatTime(ms) {
  if (typeof ms !== "number" || !Number.isFinite(ms)) return "—";
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}

/** `YYYY-MM-DD` of `ms` in the browser's time zone (for date inputs). */
export function formatDate(ms) {
  const d = new Date(ms);
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
}

/** A datetime-local input's value as ms, or undefined when empty. */
export function parseLocalDateTime(value) {
  if (!value) return undefined;
  const ms = new Date(value).getTime();
  return Number.isFinite(ms) ? ms : undefined;
}

/** A digit keypad that types into the input with id `target`. */
export function buildKeypad(container) {
  const target = document.getElementById(container.dataset.target);
  const pin = container.dataset.pin === "1";
  const keys = pin
    ? ["1", "2", "3", "4", "5", "6", "7", "8", "9", "C", "0", "⌫"]
    : ["1", "2", "3", "4", "5", "6", "7", "8", "9", ".", "0", "00", "C", "⌫"];
  container.setAttribute("role", "group");
  for (const key of keys) {
    const button = el("button", { type: "button", textContent: key, dataset: { key } });
    if (key === "⌫") button.setAttribute("aria-label", "backspace");
    if (key === "C") button.setAttribute("aria-label", "clear");
    button.addEventListener("click", () => {
      if (key === "C") target.value = "";
      else if (key === "⌫") target.value = target.value.slice(0, -1);
      else target.value += key;
      target.dispatchEvent(new Event("input", { bubbles: true }));
    });
    container.append(button);
  }
}

/** Saves `text` as a file through a temporary link (works in WebViews with a download handler). */
export function download(name, text, type = "application/json") {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const link = el("a", { href: url, download: name });
  document.body.append(link);
  link.click();
  link.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}
