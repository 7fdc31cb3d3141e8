// Marks the page as scripted, so CSS can tuck away what only matters without JavaScript.
document.documentElement.classList.add("js");
