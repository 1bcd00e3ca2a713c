// Stand-in for @npmcli/arborist inside the SDK's closure serializer (see index.js): `Arborist` loads the real module.
// `__esModule` makes the SDK's import helper hand this object over as it is instead of copying (reading) each export.
"use strict";
const { loadReal } = require("./index.js");

module.exports = {
  __esModule: true,
  get Arborist() {
    return loadReal("arborist.js").Arborist;
  },
  get default() {
    return loadReal("arborist.js");
  },
};
