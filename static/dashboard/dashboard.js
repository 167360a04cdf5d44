// Small progressive enhancements: live "what if" re-ranking and progress polling.
(function () {
  "use strict";

  function fillFields(root, data) {
    root.querySelectorAll("[data-field]").forEach(function (el) {
      var key = el.dataset.field;
      if (!(key in data)) return;
      if (key === "progress") el.textContent = Math.round(data.progress) + " %";
      else if (key === "loss") el.textContent = data.loss === null ? "–" : data.loss.toFixed(4);
      else if (key === "download") { if (data.download) { el.href = data.download; el.hidden = false; } }
      else el.textContent = data[key] === null ? "–" : data[key];
    });
    var bar = root.querySelector("progress");
    if (bar && "progress" in data) bar.value = data.progress;
  }

  function poll(url, root, pick, isDone) {
    function tick() {
      fetch(url, { credentials: "same-origin" }).then(function (r) { return r.json(); }).then(function (json) {
        var data = pick(json);
        if (!data) return;
        fillFields(root, data);
        if (!isDone(data)) setTimeout(tick, 1000);
      }).catch(function () { setTimeout(tick, 3000); });
    }
    tick();
  }

  document.addEventListener("DOMContentLoaded", function () {
    var whatIf = document.getElementById("what-if");
    if (whatIf) {
      whatIf.addEventListener("submit", function (event) {
        event.preventDefault();
        var out = document.getElementById("what-if-result");
        var query = new URLSearchParams(new FormData(whatIf)).toString();
        out.textContent = "Re-ranking…";
        fetch(whatIf.dataset.url + "?" + query, { credentials: "same-origin" })
          .then(function (r) { return r.json().then(function (j) { return { ok: r.ok, json: j }; }); })
          .then(function (res) {
            if (!res.ok) { out.textContent = JSON.stringify(res.json.errors); return; }
            out.innerHTML = "<h3>If they viewed it now (" + res.json.source + ")</h3>" + res.json.html;
          });
      });
    }

    var training = document.querySelector("[data-testid=training]");
    if (training) {
      var status = document.getElementById("run-status");
      poll(training.dataset.progressUrl, status, function (json) {
        if (!json.run) return null;
        if (!status.querySelector("progress")) {
          status.innerHTML = 'Run #' + json.run.id + ': <span data-field="state"></span>, epoch <span data-field="epoch"></span>, ' +
            'loss <span data-field="loss"></span> <progress max="100"></progress> <b data-testid="progress" data-field="progress"></b> ' +
            '<span class="error" data-field="error"></span>';
        }
        return json.run;
      }, function (run) { return run.done; });
    }

    // Email previews: as tall as the email (sandboxed, scripts off; same origin only to measure it).
    document.querySelectorAll("iframe.email-preview").forEach(function (frame) {
      function fit() { frame.style.height = (frame.contentDocument.documentElement.scrollHeight + 4) + "px"; }
      if (frame.contentDocument && frame.contentDocument.readyState === "complete") fit();
      frame.addEventListener("load", fit);
    });

    var exportStatus = document.getElementById("export-status");
    if (exportStatus) {
      poll(exportStatus.dataset.progressUrl, exportStatus, function (json) { return json; },
        function (job) { return job.state === "done" || job.state === "failed"; });
    }
  });
})();
