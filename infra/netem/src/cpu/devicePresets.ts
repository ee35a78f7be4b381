import { NetemError, NetemErrorCodes } from '../errors.js';
import type { DevicePreset } from '../types/index.js';

/**
 * Device presets: fractions of ONE core of the reference machine (a 2-core AMD EPYC Zen 3 VM at about 3 GHz) that
 * stand in for weaker edge devices. They are approximations derived from published single-thread benchmark ratios
 * (see `basis` and the package README), not measurements of the devices; what is measured is the fraction the CPU
 * budget actually delivers (`measureCpuFraction`). The planner's edge timings must come from `calibrate()` run under
 * the same budget, never from these numbers.
 *
 * @example
 * const budget = await createCpuBudget({ cpuFraction: DEVICE_PRESETS.pi4!.cpuFraction, name: 'pi4' })
 */
export const DEVICE_PRESETS: Readonly<Record<string, Readonly<DevicePreset>>> = Object.freeze({
  host: {
    name: 'host',
    cpuFraction: 1,
    description: 'This machine, no limit',
    basis: 'the machine itself',
  },
  pi4: {
    name: 'pi4',
    cpuFraction: 0.15,
    description: 'Raspberry Pi 4B (Cortex-A72, 1.5 GHz), one core: an approximation',
    basis:
      'Geekbench 5 single-core: Raspberry Pi 4B 202 vs AMD Ryzen 5 5500 (Zen 3) 1355 = 0.15 (gist psmgeelen/9b3549da, 2023); ' +
      'published single-thread ratios of the Pi 4B to a modern x64 core are about 1/5 to 1/8. The integer-heavy 7-zip ' +
      'single-thread rating gives 0.6 instead (sbc-bench: Pi 4B 1.5 GHz 1606-1661; this machine 2712 with `7zz b -mmt1`), ' +
      "an upper bound: CNN inference is SIMD-bound, and the A72 has 128-bit NEON at half the clock of this core's 256-bit AVX2/FMA",
  },
  'pi-zero2': {
    name: 'pi-zero2',
    cpuFraction: 0.06,
    description: 'Raspberry Pi Zero 2 W (Cortex-A53, 1 GHz), one core: an approximation',
    basis:
      '0.4 x pi4: sbc-bench 7-zip single-thread rates the Zero 2 (1 GHz) at 838 vs 1606-1661 for the Pi 4B (0.51), and the ' +
      'in-order A53 issues less SIMD work per clock than the A72, so its share of SIMD-bound inference is taken lower',
  },
} satisfies Record<string, DevicePreset>);

/**
 * A device preset by name; throws `JMDC_ERR_NETEM_UNKNOWN_PROFILE` for an unknown name.
 *
 * @example
 * devicePreset('pi4').cpuFraction // 0.15
 */
export function devicePreset(name: string): DevicePreset {
  const p = Object.hasOwn(DEVICE_PRESETS, name) ? DEVICE_PRESETS[name] : undefined;
  if (!p) {
    const known = Object.keys(DEVICE_PRESETS);
    throw new NetemError(
      NetemErrorCodes.UNKNOWN_PROFILE,
      `unknown device preset '${name}' (known: ${known.join(', ')})`,
      {
        name,
        known,
      },
    );
  }
  return { ...p };
}
