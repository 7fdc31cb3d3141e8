// The review page asks for the client's name on each form (so it works without
// JavaScript); with it, typing the name once fills every form's name field.
document.addEventListener("input", (event) => {
  const field = event.target;
  if (!(field instanceof HTMLInputElement) || field.name !== "name") return;
  for (const other of document.querySelectorAll(".review-page input[name=name]")) {
    if (other !== field) other.value = field.value;
  }
});
