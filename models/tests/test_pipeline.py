"""Tests of the model pipeline on a tiny configuration (seconds on a CPU)."""
from __future__ import annotations

import json
import os
import pickle
import tempfile
import unittest

import numpy as np
import onnxruntime as ort
import torch

from jmdc_models import data, pipeline
from jmdc_models.export import content_hash, sha256_file
from jmdc_models.net import CFGS, Net, block_widths, fake_quantize, select_regions
from jmdc_models.prune import keep_indices, prune, rank_scores
from jmdc_models.train import augment


def write_cifar_fixture(root: str, n_per_batch: int = 12, batches: int = 2) -> None:
    """A CIFAR-10 python-version folder with random images (the real format: pickled dicts of bytes keys)."""
    rng = np.random.default_rng(0)
    for name in [f"data_batch_{i}" for i in range(1, batches + 1)] + ["test_batch"]:
        d = {b"data": rng.integers(0, 256, (n_per_batch, 3072), dtype=np.uint8),
             b"labels": rng.integers(0, 10, n_per_batch).tolist(), b"batch_label": name.encode()}
        with open(os.path.join(root, name), "wb") as f:
            pickle.dump(d, f)


class CifarReaderTest(unittest.TestCase):
    def test_reads_python_batches_and_holds_out_validation(self):
        with tempfile.TemporaryDirectory() as root:
            write_cifar_fixture(root)
            ds = data.load_cifar10(root, n_val=4)
            self.assertEqual(ds.train_x.shape, (20, 3, 32, 32))
            self.assertEqual(ds.val_x.shape, (4, 3, 32, 32))
            self.assertEqual(ds.test_x.shape, (12, 3, 32, 32))
            self.assertEqual(ds.train_x.dtype, np.uint8)
            # the first image of test_batch, channel-major as in the file
            with open(os.path.join(root, "test_batch"), "rb") as f:
                raw = pickle.load(f, encoding="bytes")
            np.testing.assert_array_equal(ds.test_x[0].reshape(-1), raw[b"data"][0])
            self.assertEqual(ds.classes[0], "airplane")

    def test_rejects_a_batch_with_wrong_row_size(self):
        with tempfile.TemporaryDirectory() as root:
            with open(os.path.join(root, "data_batch_1"), "wb") as f:
                pickle.dump({b"data": np.zeros((2, 100), np.uint8), b"labels": [0, 1]}, f)
            with self.assertRaisesRegex(ValueError, "3072"):
                data.load_cifar10(root)

    def test_missing_folder_is_a_clear_error(self):
        with tempfile.TemporaryDirectory() as root:
            with self.assertRaises(FileNotFoundError):
                data.load_cifar10(root)


@unittest.skipUnless(os.path.isdir(data.FASHION_MNIST_DIR), "dataset-fashion-mnist not installed")
class FashionMnistTest(unittest.TestCase):
    def test_splits_and_padding(self):
        ds = data.load_fashion_mnist()
        self.assertEqual((len(ds.train_x), len(ds.val_x), len(ds.test_x)), (55000, 5000, 10000))
        self.assertEqual(ds.train_x.shape[1:], (1, 32, 32))
        self.assertEqual(int(ds.train_x[:, :, :2].max()), 0)  # padding rows are background
        self.assertEqual(sorted(set(ds.test_y.tolist())), list(range(10)))


class CompressionOpsTest(unittest.TestCase):
    def test_region_selection_keeps_topk_and_fills_the_rest(self):
        torch.manual_seed(0)
        x = torch.randn(2, 3, 4, 4)
        a = torch.rand(2, 4, 4)
        fill = torch.tensor([1.0, 2.0, 3.0])
        y, mask = select_regions(x, a, 0.25, fill)
        self.assertEqual(mask.sum(1).tolist(), [4, 4])
        top = a.reshape(2, -1).topk(4, dim=1).indices
        for n in range(2):
            self.assertEqual(sorted(mask[n].nonzero().flatten().tolist()), sorted(top[n].tolist()))
            kept = mask[n].view(4, 4)
            torch.testing.assert_close(y[n][:, kept], x[n][:, kept])
            self.assertTrue(torch.all(y[n][:, ~kept] == fill.view(3, 1)))

    def test_fake_quantization_error_is_at_most_half_a_step(self):
        torch.manual_seed(1)
        x = torch.randn(2, 5, 3, 3, requires_grad=True)
        mask = torch.ones(2, 9, dtype=torch.bool)
        for bits in (2, 4, 6, 8):
            q = fake_quantize(x, mask, bits)
            flat = x.detach().reshape(2, 5, 9)
            step = (flat.amax(2) - flat.amin(2)) / ((1 << bits) - 1)
            err = (q.detach().reshape(2, 5, 9) - flat).abs().amax(2)
            self.assertTrue(torch.all(err <= step / 2 + 1e-6))
        q.sum().backward()  # straight-through: gradient of identity
        torch.testing.assert_close(x.grad, torch.ones_like(x))

    def test_tensor_scope_quantization_uses_one_range_per_item(self):
        from jmdc_models.bottleneck import fake_quantize_tensor

        torch.manual_seed(0)
        x = torch.rand(3, 4, 5, 5)
        mask = torch.ones(3, 25, dtype=torch.bool)
        q = fake_quantize_tensor(x, mask, 2)
        for n in range(3):
            lo, hi = float(x[n].min()), float(x[n].max())
            step = (hi - lo) / 3
            self.assertLessEqual(float((q[n] - x[n]).abs().max()), step / 2 + 1e-6)
            self.assertLessEqual(len(torch.unique(q[n])), 4)
        # dropped positions pass through untouched
        mask[:, :10] = False
        q = fake_quantize_tensor(x, mask, 1)
        self.assertTrue(torch.equal(q.reshape(3, 4, 25)[:, :, :10], x.reshape(3, 4, 25)[:, :, :10]))

    def test_network_rebuilt_from_onnx_equals_torch(self):
        from jmdc_models.bottleneck import load_folded
        from jmdc_models.export import export_variant

        torch.manual_seed(0)
        net = Net(block_widths(CFGS["vgg11"], 0.0625), 1, 10).eval()
        with torch.no_grad():
            for m in net.modules():
                if isinstance(m, torch.nn.BatchNorm2d):
                    m.running_mean.uniform_(-0.5, 0.5)
                    m.running_var.uniform_(0.5, 2)
        with tempfile.TemporaryDirectory() as d:
            files = export_variant(net, os.path.join(d, "r000"), d, [1, 32, 32])
            variant = {"blocks": files, "fill": [f.detach().tolist() for f in net.fills]}
            rebuilt = load_folded(d, variant, 1, 10)
        x = torch.randn(4, 1, 32, 32)
        with torch.no_grad():
            np.testing.assert_allclose(rebuilt(x).numpy(), net(x).numpy(), atol=1e-4)

    def test_augment_keeps_shape_and_pixels(self):
        x = torch.arange(2 * 1 * 6 * 6, dtype=torch.uint8).view(2, 1, 6, 6)
        torch.manual_seed(0)
        y = augment(x, 0, True)
        self.assertEqual(y.shape, x.shape)
        for n in range(2):
            self.assertTrue(torch.equal(y[n], x[n]) or torch.equal(y[n], x[n].flip(2)))


class PruneTest(unittest.TestCase):
    def test_pruned_network_equals_masked_original(self):
        torch.manual_seed(0)
        net = Net(block_widths(CFGS["vgg11"], 0.125), 1, 10).eval()
        scores = rank_scores(net, "l1")
        keep = keep_indices(scores, 0.5)
        small = prune(net, keep).eval()
        self.assertEqual([len(k) for k in keep], [len(s) // 2 for s in scores])
        self.assertLess(sum(p.numel() for p in small.parameters()), sum(p.numel() for p in net.parameters()))
        # zeroing the removed channels' BN outputs in the original must give the pruned network's logits
        with torch.no_grad():
            units = [u for b in net.blocks for u in b.units]
            for u, k in zip(units, keep):
                drop = torch.ones(u.bn.num_features, dtype=torch.bool)
                drop[k] = False
                u.bn.weight[drop] = 0
                u.bn.bias[drop] = 0
            x = torch.randn(3, 1, 32, 32)
            torch.testing.assert_close(small(x), net(x), atol=1e-5, rtol=1e-4)

    def test_attention_ranking_keeps_the_highest_gates(self):
        scores = [torch.tensor([0.1, 0.9, 0.5, 0.7])]
        self.assertEqual(keep_indices(scores, 0.5)[0].tolist(), [1, 3])


@unittest.skipUnless(os.path.isdir(data.FASHION_MNIST_DIR), "dataset-fashion-mnist not installed")
class TinyPipelineTest(unittest.TestCase):
    """The same pipeline code as the shipped model, on a few hundred images and a tiny width."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.TemporaryDirectory()
        cls.out = os.path.join(cls.tmp.name, "model")
        rc = pipeline.main(["--config", "tiny", "--out", cls.out, "--work", os.path.join(cls.tmp.name, "work"),
                            "--threads", "1"])
        assert rc == 0
        with open(os.path.join(cls.out, "manifest.json")) as f:
            cls.manifest = json.load(f)

    @classmethod
    def tearDownClass(cls):
        cls.tmp.cleanup()

    def test_manifest_fields(self):
        m = self.manifest
        self.assertEqual(m["id"], "tiny-vgg11")
        self.assertEqual(m["input"]["shape"], [1, 32, 32])
        self.assertEqual(len(m["classes"]), 10)
        self.assertEqual([p["point"] for p in m["points"]], [1, 2, 3, 4, 5])
        self.assertEqual([v["pruneRatio"] for v in m["variants"]], [0.0, 0.5])
        for v in m["variants"]:
            self.assertEqual(len(v["blocks"]), 6)
            self.assertTrue(0 <= v["accuracy"]["val"] <= 1 and 0 <= v["accuracy"]["test"] <= 1)
            self.assertEqual([len(f) for f in v["fill"]], [b["outShape"][0] for b in v["blocks"][:5]])
        self.assertLess(m["variants"][1]["macs"], m["variants"][0]["macs"])

    def test_hashes_match_files(self):
        m = self.manifest
        files = [b["file"] for v in m["variants"] for b in v["blocks"]] + ["golden.json"]
        for v in m["variants"]:
            for b in v["blocks"]:
                self.assertEqual(sha256_file(os.path.join(self.out, b["file"])), b["sha256"])
        for e in m["bottlenecks"]:
            for role in ("encoder", "decoder"):
                self.assertEqual(sha256_file(os.path.join(self.out, e[role]["file"])), e[role]["sha256"])
                files.append(e[role]["file"])
        self.assertEqual(content_hash(self.out, files), m["hash"])

    def test_bottleneck_entries(self):
        m = self.manifest
        self.assertEqual([(e["id"], e["point"], e["channels"]) for e in m["bottlenecks"]],
                         [("r000-p1", 1, 2), ("r000-p2", 2, 4)])
        r000 = m["variants"][0]
        for e in m["bottlenecks"]:
            shape = r000["blocks"][e["point"] - 1]["outShape"]
            self.assertEqual(e["variant"], 0.0)
            self.assertEqual(e["codeShape"], [e["channels"], *shape[1:]])
            self.assertEqual(e["encoder"]["inShape"], shape)
            self.assertEqual(e["encoder"]["outShape"], e["codeShape"])
            self.assertEqual(e["decoder"]["inShape"], e["codeShape"])
            self.assertEqual(e["decoder"]["outShape"], shape)
            self.assertEqual(len(e["fill"]), e["channels"])
            self.assertTrue(all(0 <= f <= 1 for f in e["fill"]))
            self.assertGreater(e["encoder"]["macs"], 0)

    def test_bottleneck_chain_equals_torch_logits(self):
        """head blocks -> encoder -> decoder -> tail blocks in onnxruntime = the trained torch modules."""
        with open(os.path.join(self.out, "golden.json")) as f:
            golden = json.load(f)
        c, h, w = golden["sourceShape"]
        imgs = np.array(golden["images"], dtype=np.uint8).reshape(-1, c, h, w)
        norm = self.manifest["input"]["normalization"]
        x = data.normalize(np.pad(imgs, ((0, 0), (0, 0), (norm["pad"],) * 2, (norm["pad"],) * 2)),
                           data.Normalization(norm["mean"], norm["std"], norm["pad"])).numpy()
        blocks = self.manifest["variants"][0]["blocks"]
        for e in self.manifest["bottlenecks"]:
            feats = x
            for b in blocks[: e["point"]]:
                feats, _ = ort.InferenceSession(os.path.join(self.out, b["file"])).run(["features", "attention"],
                                                                                        {"x": feats})
            (code,) = ort.InferenceSession(os.path.join(self.out, e["encoder"]["file"])).run(["code"],
                                                                                          {"features": feats})
            self.assertEqual(list(code.shape[1:]), e["codeShape"])
            self.assertTrue(((code > 0) & (code < 1)).all())
            (feats,) = ort.InferenceSession(os.path.join(self.out, e["decoder"]["file"])).run(["features"],
                                                                                           {"code": code})
            for b in blocks[e["point"]:-1]:
                feats, _ = ort.InferenceSession(os.path.join(self.out, b["file"])).run(["features", "attention"],
                                                                                        {"x": feats})
            (logits,) = ort.InferenceSession(os.path.join(self.out, blocks[-1]["file"])).run(["logits"],
                                                                                          {"features": feats})
            np.testing.assert_allclose(logits, np.array(golden["bottlenecks"][e["id"]]), atol=1e-4)

    def test_chained_onnx_blocks_equal_torch_logits(self):
        with open(os.path.join(self.out, "golden.json")) as f:
            golden = json.load(f)
        c, h, w = golden["sourceShape"]
        imgs = np.array(golden["images"], dtype=np.uint8).reshape(-1, c, h, w)
        norm = self.manifest["input"]["normalization"]
        x = data.normalize(np.pad(imgs, ((0, 0), (0, 0), (norm["pad"],) * 2, (norm["pad"],) * 2)),
                           data.Normalization(norm["mean"], norm["std"], norm["pad"])).numpy()
        for v in self.manifest["variants"]:
            feats = x
            for b in v["blocks"][:-1]:
                s = ort.InferenceSession(os.path.join(self.out, b["file"]))
                feats, att = s.run(["features", "attention"], {"x": feats})
                self.assertEqual(list(feats.shape[1:]), b["outShape"])
                self.assertEqual(att.shape, (len(imgs), *b["outShape"][1:]))
            s = ort.InferenceSession(os.path.join(self.out, v["blocks"][-1]["file"]))
            (logits,) = s.run(["logits"], {"features": feats})
            np.testing.assert_allclose(logits, np.array(golden["logits"][v["id"]]), atol=1e-4)

    def test_report_has_control_table(self):
        with open(os.path.join(self.out, "training-report.json")) as f:
            report = json.load(f)
        methods = [r["method"] for r in report["phases"]["control"]["rows"]]
        self.assertEqual(methods, ["attention", "l1", "random"])


if __name__ == "__main__":
    unittest.main()
