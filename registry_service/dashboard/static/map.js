// The overview's map of stations (a file of its own: the dashboard's CSP runs no inline script).
// Leaflet draws; the registry decides what is drawn. Colours, labels, titles and links come in
// the GeoJSON of /dashboard/map/*.geojson (registry_service/dashboard/map_data.py), already in the
// datum of the tiles, and the page's words come in the element's data-config. Text from the data
// is only ever set as text (textContent, or escaped for Leaflet's HTML attribution), never as HTML.
(function () {
  "use strict";

  var element = document.getElementById("map");
  var status = document.getElementById("map-status");
  if (!element) {
    return;
  }
  var config = JSON.parse(element.getAttribute("data-config"));
  var words = config.words;
  // Permanent labels only while they fit: beyond this many points they would cover each other.
  var MAX_LABELLED_STATIONS = 80;
  var MAX_LABELLED_REGIONS = 40;

  function say(text) {
    status.textContent = text;
    status.hidden = !text;
  }

  if (typeof L === "undefined") {
    say(words.failed);
    return;
  }

  function escapeHtml(text) {
    var holder = document.createElement("span");
    holder.textContent = text;
    return holder.innerHTML;
  }

  function fetchJson(url) {
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/geo+json" } }).then(function (response) {
      if (!response.ok) {
        throw new Error("HTTP " + response.status);
      }
      return response.json();
    });
  }

  var map = L.map(element, { zoomControl: false, attributionControl: true, scrollWheelZoom: false });
  L.control.zoom({ zoomInTitle: words.zoomIn, zoomOutTitle: words.zoomOut }).addTo(map);
  map.attributionControl.setPrefix('<a href="https://leafletjs.com">Leaflet</a>');
  config.tiles.forEach(function (url, index) {
    L.tileLayer(url, {
      subdomains: config.subdomains,
      attribution: index === 0 ? escapeHtml(config.attribution) : "",
      maxZoom: 18,
    }).addTo(map);
  });
  var hasTiles = config.tiles.length > 0;
  element.classList.toggle("no-tiles", !hasTiles);

  function goTo(href) {
    return function () {
      window.location.assign(href);
    };
  }

  function drawRegions(collection) {
    var children = collection.features.filter(function (f) {
      return f.properties.role === "child";
    });
    return L.geoJSON(collection, {
      style: function (feature) {
        var current = feature.properties.role === "current";
        return {
          color: "#1d4f91",
          weight: current ? 2.5 : 1.2,
          dashArray: current ? "6 4" : null,
          fillColor: "#1d4f91",
          fillOpacity: current ? 0 : 0.04,
        };
      },
      onEachFeature: function (feature, layer) {
        var p = feature.properties;
        if (p.href) {
          layer.on("click", goTo(p.href));
        }
        var permanent = !hasTiles && p.role === "child" && children.length <= MAX_LABELLED_REGIONS;
        layer.bindTooltip(p.name, { permanent: permanent, direction: "center", className: "region-label" });
      },
    }).addTo(map);
  }

  function popup(p) {
    var box = document.createElement("div");
    var title = document.createElement("p");
    title.textContent = p.title;
    var link = document.createElement("a");
    link.href = p.href;
    link.textContent = words.open;
    box.appendChild(title);
    box.appendChild(link);
    return box;
  }

  function drawStations(collection) {
    var labelled = collection.features.length <= MAX_LABELLED_STATIONS;
    return L.geoJSON(collection, {
      pointToLayer: function (feature, latlng) {
        return L.circleMarker(latlng, {
          radius: 8,
          color: "#1f2933",
          weight: 1.5,
          fillColor: feature.properties.colour,
          fillOpacity: 1,
          className: "station-point",
        });
      },
      onEachFeature: function (feature, layer) {
        var p = feature.properties;
        layer.bindPopup(popup(p), { closeButton: false }); // its label would be Leaflet's English
        if (labelled) {
          layer.bindTooltip(p.label, { permanent: true, direction: "right", offset: [8, 0], className: "station-label" });
        } else {
          layer.bindTooltip(p.title);
        }
      },
    }).addTo(map);
  }

  // Labels that would cover one another: the station with the higher rate keeps its label; the
  // other's number is a tap away (its popup) and in the tables below. Done again after each zoom.
  function declutter(stations, regions) {
    var kept = [];
    function place(layer) {
      var tooltip = layer.getTooltip();
      var label = tooltip && tooltip.options.permanent ? tooltip.getElement() : null;
      if (!label) {
        return;
      }
      label.classList.remove("label-hidden");
      var box = label.getBoundingClientRect();
      var clash = kept.some(function (other) {
        return box.left < other.right && other.left < box.right && box.top < other.bottom && other.top < box.bottom;
      });
      if (clash) {
        label.classList.add("label-hidden");
      } else {
        kept.push(box);
      }
    }
    stations
      .getLayers()
      .slice()
      .sort(function (a, b) {
        return (b.feature.properties.rate || -1) - (a.feature.properties.rate || -1);
      })
      .forEach(place);
    regions.getLayers().forEach(place);
  }

  say("");
  Promise.all([fetchJson(config.regions), fetchJson(config.stations)])
    .then(function (answers) {
      var regions = drawRegions(answers[0]);
      var stations = drawStations(answers[1]);
      var bounds = regions.getBounds();
      if (stations.getLayers().length) {
        bounds = bounds.isValid() ? bounds.extend(stations.getBounds()) : stations.getBounds();
      }
      if (bounds.isValid()) {
        map.fitBounds(bounds, { padding: [24, 24], maxZoom: 15 });
      } else {
        map.setView([35.0, 105.0], 4); // nothing to frame: China
      }
      declutter(stations, regions);
      map.on("zoomend", function () {
        declutter(stations, regions);
      });
      if (!answers[1].features.length) {
        say(words.empty);
      } else if (answers[0].truncated || answers[1].truncated) {
        say(words.truncated);
      }
      element.setAttribute("data-ready", String(answers[1].features.length));
    })
    .catch(function () {
      say(words.failed);
      element.setAttribute("data-ready", "failed");
    });
})();
