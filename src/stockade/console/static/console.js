/* The console's little JavaScript: live updates of the regions marked data-live, by polling.
 *
 * Every page works without it (lists, filters and forms are plain HTML). With it, the page
 * fetches itself every data-refresh milliseconds and swaps in each fresh [data-live] region,
 * except one that holds the keyboard focus, so a keyboard user is never moved. The "Live"
 * switch pauses it (remembered in this browser); a hidden tab does not poll.
 */
(function () {
  "use strict";
  var body = document.body;
  var interval = parseInt(body.getAttribute("data-refresh") || "0", 10);
  var toggle = document.getElementById("live");
  var switchLabel = toggle ? toggle.closest("label") : null;
  if (!interval || !window.fetch || !window.DOMParser) {
    return;
  }
  if (switchLabel) {
    switchLabel.hidden = false;
    toggle.checked = window.localStorage.getItem("stockade-live") !== "off";
    toggle.addEventListener("change", function () {
      window.localStorage.setItem("stockade-live", toggle.checked ? "on" : "off");
    });
  }
  var busy = false;
  var timer = null;

  function stop(message) {
    window.clearInterval(timer);
    if (switchLabel) {
      switchLabel.hidden = true;
    }
    var main = document.getElementById("main");
    if (main && message) {
      var note = document.createElement("p");
      note.className = "error";
      note.setAttribute("role", "alert");
      note.textContent = message;
      main.insertBefore(note, main.firstChild);
    }
  }

  function swap(text) {
    var fresh = new DOMParser().parseFromString(text, "text/html");
    var regions = document.querySelectorAll("[data-live][id]");
    for (var i = 0; i < regions.length; i += 1) {
      var old = regions[i];
      var next = fresh.getElementById(old.id);
      if (!next || old.contains(document.activeElement)) {
        continue;
      }
      if (old.innerHTML !== next.innerHTML) {
        old.replaceWith(document.importNode(next, true));
      }
    }
  }

  function poll() {
    if (busy || document.hidden || (toggle && !toggle.checked)) {
      return;
    }
    busy = true;
    window.fetch(window.location.href, {
      credentials: "same-origin",
      redirect: "manual",
      headers: { "X-Console-Live": "1" },
    }).then(function (response) {
      if (response.type === "opaqueredirect" || response.status === 401) {
        stop("Your session has ended: reload the page to sign in again.");
        return null;
      }
      return response.text();
    }).then(function (text) {
      if (text) {
        swap(text);
      }
    }).catch(function () {
      /* the server is restarting or unreachable: try again at the next tick */
    }).then(function () {
      busy = false;
    });
  }

  timer = window.setInterval(poll, interval);
})();
