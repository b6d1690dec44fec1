// PRISME dashboard: pages work without JavaScript; this file only adds comforts.
// Served by the dashboard itself (CSP script-src 'self').
document.addEventListener("DOMContentLoaded", () => {
  for (const form of document.querySelectorAll("form[data-confirm]")) {
    form.addEventListener("submit", (event) => {
      if (!window.confirm(form.dataset.confirm)) event.preventDefault();
    });
  }
});
