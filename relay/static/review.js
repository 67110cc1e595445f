// Review mode: the live count under each tweet being edited.
// relay itself weighs the text (POST /review/count), so the count is exactly the one relay will
// check on approval: twitter-text weights, every link 23. Without this script the page still works:
// the count is checked when the form is sent.
"use strict";
(function () {
  function watch(area) {
    var form = area.form;
    var counter = document.getElementById("count-" + area.dataset.delivery);
    var problem = document.getElementById("problem-" + area.dataset.delivery);
    var timer = null;
    var asked = 0;
    function ask() {
      var mine = ++asked;
      var body = new URLSearchParams();
      body.set("csrf", form.elements.csrf.value);
      body.set("delivery", area.dataset.delivery);
      body.set("text", area.value);
      fetch("/review/count?lang=" + encodeURIComponent(area.dataset.lang), {
        method: "POST", body: body, credentials: "same-origin",
        headers: {"Accept": "application/json"}
      }).then(function (response) {
        return response.ok ? response.json() : null;
      }).then(function (answer) {
        if (!answer || mine !== asked) return;
        counter.textContent = answer.counter;
        counter.classList.toggle("over", answer.problem === "too_long");
        if (answer.problem) {
          problem.textContent = answer.message;
          problem.hidden = false;
          area.setAttribute("aria-invalid", "true");
        } else {
          problem.textContent = "";
          problem.hidden = true;
          area.removeAttribute("aria-invalid");
        }
      }).catch(function () { /* offline: the check on sending still applies */ });
    }
    area.addEventListener("input", function () {
      clearTimeout(timer);
      timer = setTimeout(ask, 200);
    });
  }
  document.querySelectorAll("textarea[data-delivery]").forEach(watch);
})();
