// The retention screen's purge in bounded steps: the page posts one step after another
// (each at most data-budget rows, resuming where the last left off) and draws the
// progress bar from the counts each answers. Nothing waits in a server between steps,
// so any worker may take the next one. Without this script the form posts the one-shot
// purge.
const form = document.getElementById("run-purge");
const box = document.getElementById("purge-progress");
const bar = document.getElementById("purge-bar");
const status = document.getElementById("purge-status");

function sum(counts) {
  return Object.values(counts).reduce((total, n) => total + n, 0);
}

async function step(fields) {
  const response = await fetch("/console/retention/purge/step", {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    credentials: "same-origin",
    body: new URLSearchParams(fields).toString(),
  });
  const answer = await response.json().catch(() => ({}));
  if (!response.ok) {
    throw new Error(`${response.status} ${answer.code || ""}: ${answer.detail || ""}`);
  }
  return answer;
}

async function run() {
  const fields = {
    csrf: form.elements.csrf.value,
    reason: form.elements.reason.value,
    budget: box.dataset.budget,
  };
  let disposed = 0;
  let steps = 0;
  box.hidden = false;
  form.querySelector("button").disabled = true;
  for (;;) {
    const answer = await step(fields);
    steps += 1;
    disposed += sum(answer.done);
    fields.run = answer.run;
    fields.resume = answer.resume || "";
    const total = disposed + sum(answer.left);
    bar.max = Math.max(total, 1);
    bar.value = answer.finished ? bar.max : disposed;
    const percent = Math.round((100 * bar.value) / bar.max);
    if (answer.finished) {
      status.textContent = `Purge done: ${disposed} disposed of in ${steps} step(s) (100%).`;
      return;
    }
    status.textContent = `${disposed} of ${total} disposed of (${percent}%), step ${steps}…`;
  }
}

form.addEventListener("submit", (event) => {
  if (!form.reportValidity()) return;
  event.preventDefault();
  run().catch((error) => {
    status.textContent = error.message || String(error);
    form.querySelector("button").disabled = false;
  });
});
