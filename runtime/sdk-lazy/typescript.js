// Stand-in for the SDK's typescript shim inside its closure serializer (see index.js): the first property read loads
// the real TypeScript compiler, and every read goes to it.
"use strict";
const { loadReal } = require("./index.js");

let real;
const ts = () => (real ??= loadReal("typescript.js"));
module.exports = new Proxy(
  {},
  {
    get: (_target, key) => ts()[key],
    has: (_target, key) => key in ts(),
    ownKeys: () => Reflect.ownKeys(ts()),
    getOwnPropertyDescriptor: (_target, key) => {
      const d = Reflect.getOwnPropertyDescriptor(ts(), key);
      return d ? { ...d, configurable: true } : undefined;
    },
  },
);
