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

// Vidéos: the upload shows its progress (the form still posts normally without JavaScript).
function uploadWithProgress(form) {
  const box = document.getElementById(form.dataset.uploadProgress);
  const bar = box.querySelector("progress");
  const percent = box.querySelector(".upload-percent");
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const button = form.querySelector("button[type=submit]");
    const xhr = new XMLHttpRequest();
    xhr.open("POST", form.action);
    xhr.upload.addEventListener("progress", (e) => {
      if (!e.lengthComputable) return;
      const value = Math.round((e.loaded / e.total) * 100);
      bar.value = value;
      bar.textContent = `${value} %`;
      percent.textContent = `${value} %`;
    });
    xhr.addEventListener("load", () => {
      if (xhr.status < 400 && xhr.responseURL) {
        window.location.assign(xhr.responseURL);
        return;
      }
      // refused: the page the server rendered (errors beside the fields, input kept)
      const answer = new DOMParser().parseFromString(xhr.responseText, "text/html");
      const main = answer.querySelector("main");
      if (main) {
        document.querySelector("main").replaceWith(main);
        enhance(main);
      }
    });
    xhr.addEventListener("error", () => {
      percent.textContent = "Échec de l'envoi : vérifiez la connexion et réessayez.";
      button.disabled = false;
    });
    box.hidden = false;
    button.disabled = true;
    xhr.send(new FormData(form));
  });
}

function videoComforts(root) {
  for (const button of root.querySelectorAll("[data-copy]")) {
    button.addEventListener("click", async () => {
      const field = document.getElementById(button.dataset.copy);
      field.select();
      try {
        await navigator.clipboard.writeText(field.value);
        button.textContent = "Copié";
      } catch {
        button.textContent = "Sélectionné : Ctrl+C pour copier";
      }
    });
  }
  for (const button of root.querySelectorAll("[data-seek]")) {
    button.addEventListener("click", () => {
      const player = document.getElementById("player");
      if (!player) return;
      player.currentTime = Number(button.dataset.seek);
      player.focus();
    });
  }
  for (const button of root.querySelectorAll("[data-current-time]")) {
    button.addEventListener("click", () => {
      const player = document.getElementById(button.dataset.player);
      const field = document.getElementById(button.dataset.currentTime);
      if (player && field) field.value = player.currentTime.toFixed(1);
    });
  }
}

function enhance(root) {
  confirmForms(root);
  for (const body of root.querySelectorAll("[data-feed-url]")) liveFeed(body);
  for (const form of root.querySelectorAll("form[data-upload-progress]")) uploadWithProgress(form);
  videoComforts(root);
}

document.addEventListener("DOMContentLoaded", () => enhance(document));
