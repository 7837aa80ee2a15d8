/*
 * Sorting, filtering and search for Table 1 of the BioVFM-21M companion.
 *
 * The page renders Table 1 as a plain HTML table (class "biovfm-table1"), which
 * stays complete and readable without scripts. Next to it, the page embeds the
 * catalog fields the table does not print (modality group, access route,
 * aliases) as JSON in <script id="biovfm-table1-data">, one object per row in
 * table order. This script adds the controls; it changes nothing if the data
 * and the table do not match.
 */
(function () {
  "use strict";

  var COLLECTIONS = "Multi-modality";

  function element(tag, attributes, text) {
    var node = document.createElement(tag);
    Object.keys(attributes || {}).forEach(function (name) {
      node.setAttribute(name, attributes[name]);
    });
    if (text !== undefined) {
      node.textContent = text;
    }
    return node;
  }

  function labelled(id, text, control) {
    var wrapper = element("div", { class: "biovfm-control" });
    wrapper.appendChild(element("label", { for: id }, text));
    wrapper.appendChild(control);
    return wrapper;
  }

  function select(id, options) {
    var node = element("select", { id: id });
    options.forEach(function (option) {
      node.appendChild(element("option", { value: option[0] }, option[1]));
    });
    return node;
  }

  // Lower case without spaces or punctuation, so "eophtha" finds "E-optha" (alias
  // "e-ophtha") as the command line's name matching does.
  function normalise(text) {
    return text.toLowerCase().replace(/[^0-9a-z]+/g, "");
  }

  function unique(values) {
    return values.filter(function (value, index) {
      return values.indexOf(value) === index;
    });
  }

  function init() {
    var table = document.querySelector("table.biovfm-table1");
    var dataNode = document.getElementById("biovfm-table1-data");
    if (!table || !dataNode || !table.tBodies.length) {
      return;
    }
    var data = JSON.parse(dataNode.textContent);
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    if (data.length !== rows.length) {
      return;
    }

    var modalities = unique(
      data.reduce(function (all, row) {
        return all.concat(row.modalities);
      }, [])
    );
    var order = data[0].modality_order || modalities;
    modalities = order.filter(function (name) {
      return modalities.indexOf(name) >= 0;
    });
    var accessLabels = unique(data.map(function (row) {
      return row.access;
    }));

    var search = element("input", {
      id: "biovfm-search",
      type: "search",
      placeholder: "Dataset name",
      autocomplete: "off",
    });
    var modality = select(
      "biovfm-modality",
      [["", "All modalities"]]
        .concat(modalities.map(function (name) { return [name, name]; }))
        .concat([[COLLECTIONS, "Multi-modality collections"]])
    );
    var collections = element("input", { id: "biovfm-collections", type: "checkbox" });
    var access = select(
      "biovfm-access",
      [["", "All access routes"]].concat(accessLabels.map(function (name) { return [name, name]; }))
    );
    var status = element("p", { class: "biovfm-status", role: "status", "aria-live": "polite" });

    var collectionsControl = element("div", { class: "biovfm-control biovfm-checkbox" });
    collectionsControl.appendChild(collections);
    collectionsControl.appendChild(
      element("label", { for: "biovfm-collections" }, "Include collections that list it")
    );

    var form = element("form", { class: "biovfm-table1-controls", role: "search", "aria-label": "Filter Table 1" });
    form.appendChild(labelled("biovfm-search", "Search", search));
    form.appendChild(labelled("biovfm-modality", "Modality", modality));
    form.appendChild(collectionsControl);
    form.appendChild(labelled("biovfm-access", "Access", access));
    form.addEventListener("submit", function (event) {
      event.preventDefault();
    });

    var anchor = table.closest(".pst-scrollable-table-container") || table;
    anchor.parentNode.insertBefore(form, anchor);
    anchor.parentNode.insertBefore(status, anchor);

    function matches(row) {
      var text = normalise(search.value);
      if (text && row.search.indexOf(text) < 0) {
        return false;
      }
      if (access.value && row.access !== access.value) {
        return false;
      }
      var wanted = modality.value;
      if (!wanted) {
        return true;
      }
      if (wanted === COLLECTIONS) {
        return row.group === COLLECTIONS;
      }
      if (row.group === wanted) {
        return true;
      }
      return collections.checked && row.group === COLLECTIONS && row.modalities.indexOf(wanted) >= 0;
    }

    function update() {
      var shown = 0;
      var images = 0;
      rows.forEach(function (row, index) {
        var visible = matches(data[index]);
        row.hidden = !visible;
        if (visible) {
          shown += 1;
          images += data[index].n_images;
        }
      });
      var text = shown + " of " + rows.length + " sources shown, " + images.toLocaleString("en-US") + " images";
      if (modality.value && modality.value !== COLLECTIONS && collections.checked) {
        // The collections' images are not split by modality, so they count in full.
        text += ", counting every image of the collections shown, of any modality";
      }
      status.textContent = text + ".";
    }

    data.forEach(function (row) {
      row.search = [row.name].concat(row.aliases).map(normalise).join(" ");
    });
    [search, modality, collections, access].forEach(function (control) {
      control.addEventListener("input", update);
      control.addEventListener("change", update);
    });

    // Sorting: each header becomes a button; a second click reverses the order.
    var keys = [
      function (row) { return row.name.toLowerCase(); },
      function (row) { return row.modality.toLowerCase(); },
      function (row) { return row.n_images; },
      function (row) { return row.url.toLowerCase(); },
    ];
    var headers = Array.prototype.slice.call(table.tHead.rows[0].cells);
    headers.forEach(function (header, column) {
      var button = element("button", { type: "button", class: "biovfm-sort" }, header.textContent.trim());
      header.textContent = "";
      header.appendChild(button);
      header.setAttribute("aria-sort", "none");
      button.addEventListener("click", function () {
        var ascending = header.getAttribute("aria-sort") !== "ascending";
        headers.forEach(function (other) {
          other.setAttribute("aria-sort", "none");
        });
        header.setAttribute("aria-sort", ascending ? "ascending" : "descending");
        var indexes = rows.map(function (_, index) { return index; });
        indexes.sort(function (a, b) {
          var left = keys[column](data[a]);
          var right = keys[column](data[b]);
          var result = a - b;
          if (left < right) {
            result = -1;
          } else if (left > right) {
            result = 1;
          }
          return ascending ? result : -result;
        });
        indexes.forEach(function (index) {
          body.appendChild(rows[index]);
        });
      });
    });

    update();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", init);
  } else {
    init();
  }
})();
