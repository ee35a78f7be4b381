"""The seed x polarization ablation of the pruning ranking, on the tiny configuration (seconds on a CPU)."""
from __future__ import annotations

import contextlib
import io
import json
import os
import tempfile
import unittest

from jmdc_models import ablation, data
from jmdc_models.pipeline import CONTROL_METHODS


class SummaryTest(unittest.TestCase):
    def test_mean_and_sample_std_over_seeds(self):
        def row(seed, base, before, after, done=True):
            return {"seed": seed, "polar": 0.1, "done": done, "baseValAcc": base, "gateIqrOverMedian": 0.5,
                    "baseHistory": [{"seconds": 2.0}],
                    "control": [{"method": "attention", "valBefore": before, "valAfter": after}]}

        s = ablation.summarize([row(0, 0.9, 0.5, 0.8), row(1, 0.8, 0.7, 0.9),
                                {"seed": 2, "polar": 0.1, "done": False}])
        self.assertEqual(s["base"][0]["seeds"], [0, 1])
        self.assertAlmostEqual(s["base"][0]["baseValAcc"]["mean"], 0.85)
        self.assertAlmostEqual(s["base"][0]["baseValAcc"]["std"], 0.0707107, places=6)  # ddof = 1
        self.assertEqual(s["base"][0]["secondsPerEpoch"], 2.0)
        att = next(r for r in s["rankings"] if r["method"] == "attention")
        self.assertAlmostEqual(att["valBefore"]["mean"], 0.6)
        self.assertEqual(att["valAfter"]["n"], 2)
        l1 = next(r for r in s["rankings"] if r["method"] == "l1")  # no run reached it: empty, not an error
        self.assertEqual(l1["valBefore"], {"mean": None, "std": None, "n": 0})
        self.assertIn("| 0.1 | attention | 2 | 60.00% ± 14.14 | 85.00% ± 7.07 |",
                      ablation.markdown({"summary": s}))


@unittest.skipUnless(os.path.isdir(data.FASHION_MNIST_DIR), "dataset-fashion-mnist not installed")
class TinyAblationTest(unittest.TestCase):
    def test_one_seed_two_strengths(self):
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "ablation.json")
            stdout = io.StringIO()
            with contextlib.redirect_stdout(stdout):
                rc = ablation.main(["--config", "tiny", "--seeds", "0", "--polar", "0.05,0.2", "--device", "cpu",
                                    "--threads", "1", "--out", out])
            self.assertEqual(rc, 0)
            with open(out) as f:
                doc = json.load(f)
        self.assertEqual(doc["settings"]["seeds"], [0])
        self.assertEqual(doc["settings"]["polar"], [0.05, 0.2])
        self.assertEqual([(r["seed"], r["polar"]) for r in doc["rows"]], [(0, 0.05), (0, 0.2)])
        for r in doc["rows"]:
            self.assertTrue(r["done"])
            self.assertEqual(r["device"], "cpu")
            self.assertTrue(0 <= r["baseValAcc"] <= 1)
            self.assertEqual(len(r["gateSpread"]), 8)  # one entry per conv of vgg11
            for s in r["gateSpread"]:
                self.assertTrue(0 <= s["min"] <= s["q25"] <= s["median"] <= s["q75"] <= s["max"] <= 1)
            self.assertEqual([c["method"] for c in r["control"]], list(CONTROL_METHODS))
            for c in r["control"]:
                self.assertEqual(c["ratio"], 0.5)
                self.assertTrue(0 <= c["valBefore"] <= 1 and 0 <= c["valAfter"] <= 1)
        self.assertEqual([(b["polar"], b["seeds"]) for b in doc["summary"]["base"]], [(0.05, [0]), (0.2, [0])])
        self.assertEqual([(r["polar"], r["method"]) for r in doc["summary"]["rankings"]],
                         [(p, m) for p in (0.05, 0.2) for m in CONTROL_METHODS])
        for r in doc["summary"]["rankings"]:
            self.assertEqual(r["valAfter"]["n"], 1)
            self.assertIsNone(r["valAfter"]["std"])  # one seed: no sample std
            self.assertTrue(0 <= r["valBefore"]["mean"] <= 1 and 0 <= r["valAfter"]["mean"] <= 1)
        self.assertIn("| 0.2 | random | 1 |", stdout.getvalue())


if __name__ == "__main__":
    unittest.main()
