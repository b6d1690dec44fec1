// PRISME dashboard: pages work without JavaScript; this file only adds comforts.
// Served by the dashboard itself (CSP script-src 'self').
"use strict";

function confirmForms(root) {
  for (const form of root.querySelectorAll("form[data-confirm]")) {
    form.addEventListener("submit", (event) => {
      if (!window.confirm(form.dataset.confirm)) event.preventDefault();
    });
  }
}

// Événements: the live feed. The server streams rendered rows (server-sent events); the
// browser resumes by itself after a cut, sending the last event's id (Last-Event-ID).
const FEED_ROWS = 200;

function liveFeed(body) {
  const status = document.getElementById(body.dataset.feedStatus);
  const say = (text) => { if (status) status.textContent = text; };
  const source = new EventSource(body.dataset.feedUrl);
  source.addEventListener("open", () => {
    say("En direct : les nouveaux événements s'ajoutent en haut de la liste.");
    body.dataset.live = "open";
  });
  source.addEventListener("feed", (event) => {
    const empty = body.querySelector("tr.empty");
    if (empty) empty.remove();
    body.insertAdjacentHTML("afterbegin", event.data);
    while (body.rows.length > FEED_ROWS) body.deleteRow(-1);
  });
  source.addEventListener("fin", () => {
    source.close();
    body.dataset.live = "closed";
    say("Votre session est terminée : rechargez la page pour vous reconnecter.");
  });
  source.addEventListener("error", () => {
    body.dataset.live = source.readyState === EventSource.CLOSED ? "closed" : "reconnecting";
    say(source.readyState === EventSource.CLOSED
      ? "Flux interrompu : rechargez la page."
      : "Connexion perdue, reconnexion en cours…");
  });
}

document.addEventListener("DOMContentLoaded", () => {
  confirmForms(document);
  for (const body of document.querySelectorAll("[data-feed-url]")) liveFeed(body);
});
