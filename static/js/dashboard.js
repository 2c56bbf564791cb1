/* Charts of the supervisor's dashboard, drawn from the JSON embedded in the page. */
(function () {
  "use strict";
  var source = document.getElementById("dashboard-data");
  if (!source || typeof Chart === "undefined") {
    return;
  }
  var data = JSON.parse(source.textContent);
  var texts = data.texts || {};
  var palette = ["#0d6efd", "#fd7e14", "#198754", "#6f42c1", "#20c997", "#d63384", "#6c757d", "#ffc107"];
  var weak = "#dc3545";
  var base = "#0d6efd";
  Chart.defaults.maintainAspectRatio = false;
  Chart.defaults.animation = false;

  function empty(canvas) {
    var note = document.createElement("p");
    note.className = "text-body-secondary small mb-0";
    note.textContent = texts.empty || "";
    canvas.parentNode.replaceChild(note, canvas);
  }

  function draw(id, labels, config) {
    var canvas = document.getElementById(id);
    if (!canvas) {
      return;
    }
    if (!labels || labels.length === 0) {
      empty(canvas);
      return;
    }
    new Chart(canvas, config);
  }

  function linkOnClick(links) {
    return function (event, elements) {
      if (links && elements.length) {
        window.location.href = links[elements[0].index];
      }
    };
  }

  var perDay = data.per_day;
  draw("chart-per-day", perDay.datasets.length ? perDay.labels : [], {
    type: "bar",
    data: {
      labels: perDay.labels,
      datasets: perDay.datasets.map(function (set, i) {
        return { label: set.label, data: set.data, backgroundColor: palette[i % palette.length] };
      })
    },
    options: { scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } } }
  });

  var byCategory = data.by_category;
  draw("chart-by-category", byCategory.labels, {
    type: "doughnut",
    data: { labels: byCategory.labels, datasets: [{ data: byCategory.data, backgroundColor: palette }] },
    options: { onClick: linkOnClick(byCategory.links), plugins: { legend: { position: "right" } } }
  });

  var overdue = data.overdue_by_unit;
  draw("chart-overdue-by-unit", overdue.labels, {
    type: "bar",
    data: { labels: overdue.labels, datasets: [{ label: texts.orders, data: overdue.data, backgroundColor: weak }] },
    options: {
      indexAxis: "y",
      onClick: linkOnClick(overdue.links),
      plugins: { legend: { display: false } },
      scales: { x: { beginAtZero: true, ticks: { precision: 0 } } }
    }
  });

  function satisfaction(id, series) {
    draw(id, series.labels, {
      type: "bar",
      data: {
        labels: series.labels,
        datasets: [{
          label: texts.satisfaction,
          data: series.data,
          backgroundColor: series.labels.map(function (_, i) { return i === series.weakest ? weak : base; })
        }]
      },
      options: { plugins: { legend: { display: false } }, scales: { y: { beginAtZero: true, max: 100 } } }
    });
  }
  satisfaction("chart-satisfaction-segment", data.satisfaction.segment);
  satisfaction("chart-satisfaction-unit", data.satisfaction.unit);

  var groups = data.groups;
  draw("chart-groups", groups.labels, {
    type: "bar",
    data: {
      labels: groups.labels,
      datasets: [
        { label: texts.response, data: groups.rate, backgroundColor: base, yAxisID: "y" },
        { label: texts.zombies, data: groups.zombies, backgroundColor: weak, yAxisID: "y1" }
      ]
    },
    options: {
      scales: {
        y: { beginAtZero: true, max: 100, position: "left" },
        y1: { beginAtZero: true, position: "right", grid: { drawOnChartArea: false }, ticks: { precision: 0 } }
      }
    }
  });
})();
