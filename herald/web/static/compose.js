// Compose: live per-platform counters, per-account caption boxes, drag-and-drop uploads.
// The server runs the real checks (htmx posts the form to /compose/check as you type);
// these counters are the instant, local part of the same rules.
(() => {
  "use strict";
  const form = document.getElementById("compose");
  if (!form) return;
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const LIMITS = JSON.parse(document.getElementById("counters-main").dataset.limits);
  // [[platform, display name], …] in reading order, from the platform registry.
  const NAMES = Object.fromEntries(JSON.parse(document.getElementById("counters-main").dataset.names));
  // herald.validation's hashtag rule: a "#" not inside a word, then a word with a letter.
  const HASHTAG = /(?<![\p{L}\p{N}_&#])#[\p{L}\p{N}_]*[\p{L}_][\p{L}\p{N}_]*/gu;
  const number = (n) => n.toLocaleString("en");
  const boxes = () => [...form.querySelectorAll('input[name="account_ids"]')];
  const picked = () => boxes().filter((b) => b.checked);

  function countLines(text, platforms) {
    const chars = [...text].length; // code points, as the server counts them
    const hashtags = (text.match(HASHTAG) || []).length;
    const lines = [];
    for (const p of platforms) {
      const limit = LIMITS[p];
      if (!limit) continue;
      const over = chars - limit.chars;
      lines.push({ over: over > 0, text: `${NAMES[p]}: ${number(chars)} / ${number(limit.chars)} characters` +
        (over > 0 ? ` — ${number(over)} too many` : "") });
      if (limit.hashtags !== undefined) {
        const extra = hashtags - limit.hashtags;
        lines.push({ over: extra > 0, text: `${NAMES[p]}: ${hashtags} / ${limit.hashtags} hashtags` +
          (extra > 0 ? ` — ${extra} too many` : "") });
      }
    }
    return lines;
  }

  function render(target, lines) {
    target.replaceChildren(...lines.map((line) => {
      const p = document.createElement("p");
      p.className = line.over ? "counter over" : "counter";
      p.textContent = (line.over ? "✗ " : "") + line.text;
      return p;
    }));
  }

  function update() {
    const chosen = picked();
    // The main caption goes to every picked account that has no caption of its own.
    const platforms = new Set(chosen.filter((b) => !overrideText(b.value)).map((b) => b.dataset.platform));
    const main = form.querySelector("#caption");
    render(document.getElementById("counters-main"),
      countLines(main.value, chosen.length ? platforms : Object.keys(NAMES)));
    for (const box of boxes()) {
      const block = form.querySelector(`.override[data-account="${box.value}"]`);
      if (!block) continue;
      block.hidden = !box.checked;
      const area = block.querySelector("textarea");
      render(block.querySelector(".counters"), area.value.trim() ? countLines(area.value, [area.dataset.platform]) : []);
    }
  }

  function overrideText(accountId) {
    const area = form.querySelector(`textarea[name="caption_${accountId}"]`);
    return area ? area.value.trim() : "";
  }

  form.addEventListener("input", update);
  form.addEventListener("change", update);
  update();

  // --- media: upload as soon as a file is dropped or chosen ---------------------------
  const list = document.getElementById("media-list");
  const input = document.getElementById("files");
  const zone = document.getElementById("dropzone");
  input.removeAttribute("name"); // uploaded here, so not again with the form

  async function upload(file) {
    const pending = document.createElement("li");
    pending.className = "media-item uploading";
    pending.textContent = `Uploading ${file.name}…`;
    list.append(pending);
    const body = new FormData();
    body.append("file", file);
    try {
      const response = await fetch("/compose/media", {
        method: "POST", body, credentials: "same-origin", headers: { "X-CSRF-Token": csrf },
      });
      pending.outerHTML = await response.text();
    } catch (err) {
      pending.className = "media-item media-error";
      pending.textContent = `${file.name} could not be uploaded (${err}).`;
    }
    form.dispatchEvent(new Event("media-changed", { bubbles: true }));
  }

  async function uploadAll(files) {
    for (const file of files) await upload(file);
  }

  input.addEventListener("change", () => {
    uploadAll([...input.files]);
    input.value = "";
  });
  zone.addEventListener("dragover", (e) => { e.preventDefault(); zone.classList.add("over"); });
  zone.addEventListener("dragleave", () => zone.classList.remove("over"));
  zone.addEventListener("drop", (e) => {
    e.preventDefault();
    zone.classList.remove("over");
    uploadAll([...e.dataTransfer.files]);
  });
  list.addEventListener("click", (e) => {
    const button = e.target.closest(".remove-media");
    if (!button) return;
    button.closest(".media-item").remove();
    form.dispatchEvent(new Event("media-changed", { bubbles: true }));
  });
})();
