"""The bottleneck tool's state files (train on one machine, export on another), time budget and --eval parsing."""
from __future__ import annotations

import json
import os
import shutil
import tempfile
import unittest

import torch

from jmdc_models import bottleneck

FIXTURE = os.path.join(os.path.dirname(__file__), "..", "..", "test", "fixtures", "models", "tiny-vgg11")


def tiny_copy(root: str, name: str) -> str:
    out = os.path.join(root, name)
    shutil.copytree(FIXTURE, out)
    return out


class StateRoundTripTest(unittest.TestCase):
    def test_from_state_exports_the_trained_bottleneck(self):
        with tempfile.TemporaryDirectory() as root:
            a, b, states = tiny_copy(root, "a"), tiny_copy(root, "b"), os.path.join(root, "states")
            rep_a = bottleneck.add_bottlenecks(a, [(1, 2), (2, 4)], epochs=2, max_batches=2, state_dir=states)
            self.assertEqual(sorted(os.listdir(states)), ["r000-p1.pt", "r000-p2.pt"])
            saved = torch.load(os.path.join(states, "r000-p2.pt"), weights_only=True)
            self.assertEqual(saved["channels"], 4)
            self.assertEqual(len(saved["history"]), 2)
            rep_b = bottleneck.add_bottlenecks(b, [(1, 2), (2, 4)], from_state=states)
            # the same weights give the same files, manifest and golden logits
            self.assertEqual(rep_a["hash"], rep_b["hash"])
            for name in ("manifest.json", "golden.json"):
                with open(os.path.join(a, name)) as fa, open(os.path.join(b, name)) as fb:
                    self.assertEqual(json.load(fa), json.load(fb))
            self.assertEqual([r["epochs"] for r in rep_b["bottlenecks"]], [2, 2])
            self.assertEqual([r["trainedOn"] for r in rep_b["bottlenecks"]], ["cpu", "cpu"])

    def test_from_state_refuses_another_code_width_and_a_missing_file(self):
        with tempfile.TemporaryDirectory() as root:
            a, states = tiny_copy(root, "a"), os.path.join(root, "states")
            bottleneck.add_bottlenecks(a, [(1, 2)], epochs=1, max_batches=1, state_dir=states)
            with self.assertRaisesRegex(SystemExit, "2-channel code"):
                bottleneck.add_bottlenecks(a, [(1, 3)], from_state=states)
            with self.assertRaisesRegex(SystemExit, "no .*r000-p2.pt"):
                bottleneck.add_bottlenecks(a, [(2, 4)], from_state=states)


class TimeBudgetTest(unittest.TestCase):
    def test_a_budget_below_one_epoch_stops_after_the_first(self):
        with tempfile.TemporaryDirectory() as root:
            a = tiny_copy(root, "a")
            rep = bottleneck.add_bottlenecks(a, [(2, 4)], epochs=5, max_batches=2, time_budget=1e-6)
            self.assertEqual(rep["bottlenecks"][0]["epochs"], 1)
            rep = bottleneck.add_bottlenecks(a, [(2, 4)], epochs=3, max_batches=1, time_budget=1e6)
            self.assertEqual(rep["bottlenecks"][0]["epochs"], 3)


class EvalSettingTest(unittest.TestCase):
    def test_parse(self):
        self.assertEqual(bottleneck.parse_setting("0.5:2:tensor"), (0.5, 2, "tensor"))
        self.assertEqual(bottleneck.parse_setting("1:8:channel"), (1.0, 8, "channel"))
        for bad in ("0:2:tensor", "1.5:2:tensor", "1:9:tensor", "1:2:pixel", "x:2:tensor", "1"):
            with self.assertRaises(SystemExit):
                bottleneck.parse_setting(bad)


if __name__ == "__main__":
    unittest.main()
