// Validates Strimzi objects (one JSON object per stdin line) with the CRD validators of
// @kubernetes-models/strimzi-kafka-operator; prints one line per invalid object, exits 1 if any.
import * as v1 from "@kubernetes-models/strimzi-kafka-operator/kafka.strimzi.io/v1";
import { readFileSync } from "node:fs";

const models = { "kafka.strimzi.io/v1": v1 };
let bad = 0;
for (const line of readFileSync(0, "utf8").split("\n").filter(Boolean)) {
  const obj = JSON.parse(line);
  const Model = models[obj.apiVersion]?.[obj.kind];
  const where = `${obj.kind}/${obj.metadata?.name}`;
  if (!Model) {
    console.log(`${where}: no schema for ${obj.apiVersion}`);
    bad++;
    continue;
  }
  try {
    new Model(obj).validate();
  } catch (err) {
    console.log(`${where}: ${err.message}`);
    bad++;
  }
}
process.exit(bad ? 1 : 0);
