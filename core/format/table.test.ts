import { expect, test } from "bun:test";
import { formatTable } from "./table.ts";

test("columns line up under the widest cell; no trailing blanks", () => {
  expect(formatTable(["A", "LONGER", "C"], [["xxxx", "1", "last"], ["y", "", ""]])).toBe("A      LONGER   C\nxxxx   1        last\ny");
});

test("a short row leaves its missing cells empty; no rows is the header alone", () => {
  expect(formatTable(["A", "B"], [["only"]])).toBe("A      B\nonly");
  expect(formatTable(["NAME", "SIZE"], [])).toBe("NAME   SIZE");
});
