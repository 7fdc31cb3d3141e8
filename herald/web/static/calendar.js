// Calendar: drag a scheduled post onto another day to move it (same time of day).
// Without a mouse, open the post and change its date: both go through the same service.
(() => {
  "use strict";
  const csrf = document.querySelector('meta[name="csrf-token"]').content;
  const note = document.getElementById("move-status");
  const TYPE = "text/x-herald-post";

  for (const chip of document.querySelectorAll('.chip[draggable="true"]')) {
    chip.addEventListener("dragstart", (e) => {
      e.dataTransfer.setData(TYPE, chip.dataset.post);
      e.dataTransfer.effectAllowed = "move";
    });
  }
  const show = (text) => {
    note.hidden = false;
    note.className = "flash flash-error";
    note.textContent = text;
  };
  const account = document.querySelector(".calendar[data-account]")?.dataset.account;
  // An empty slot of the shown account's schedule: the post takes that slot (queued).
  for (const slot of document.querySelectorAll(".slot[data-slot]")) {
    slot.addEventListener("dragover", (e) => {
      if (!e.dataTransfer.types.includes(TYPE)) return;
      e.preventDefault();
      e.stopPropagation();
      slot.classList.add("drop");
    });
    slot.addEventListener("dragleave", () => slot.classList.remove("drop"));
    slot.addEventListener("drop", async (e) => {
      e.preventDefault();
      e.stopPropagation();
      slot.classList.remove("drop");
      const id = e.dataTransfer.getData(TYPE);
      if (!id || !account) return;
      const response = await fetch("/calendar/slot", {
        method: "POST", credentials: "same-origin",
        headers: { "X-CSRF-Token": csrf },
        body: new URLSearchParams({ post: id, account, slot: slot.dataset.slot }),
      });
      if (response.ok) { location.reload(); return; }
      show(await response.text());
    });
  }
  for (const day of document.querySelectorAll(".day[data-date]")) {
    day.addEventListener("dragover", (e) => {
      if (!e.dataTransfer.types.includes(TYPE)) return;
      e.preventDefault();
      day.classList.add("drop");
    });
    day.addEventListener("dragleave", () => day.classList.remove("drop"));
    day.addEventListener("drop", async (e) => {
      e.preventDefault();
      day.classList.remove("drop");
      const id = e.dataTransfer.getData(TYPE);
      if (!id) return;
      const response = await fetch(`/posts/${encodeURIComponent(id)}/move`, {
        method: "POST", credentials: "same-origin",
        headers: { "X-CSRF-Token": csrf },
        body: new URLSearchParams({ date: day.dataset.date }),
      });
      const text = await response.text();
      if (response.ok) { location.reload(); return; }
      show(text);
    });
  }
})();
