/**
 * The PCI configuration-space registers this library touches, from `<linux/pci_regs.h>`
 * (Debian 12's `linux-libc-dev` 6.1), names verbatim. Checked against the header by
 * `tests/unit/abi_layout.test.ts`.
 *
 * @module
 */

/** Where these constants were taken from. */
export const PCI_REGS_HEADER_SOURCE: string = "linux-libc-dev 6.1 (Debian 12): include/uapi/linux/pci_regs.h";

/** 16 bits: vendor id. */
export const PCI_VENDOR_ID = 0x00;
/** 16 bits: device id. */
export const PCI_DEVICE_ID = 0x02;
/** 16 bits: command register. */
export const PCI_COMMAND = 0x04;
/** Command bit: respond to I/O space accesses. */
export const PCI_COMMAND_IO = 0x1;
/** Command bit: respond to memory space accesses. */
export const PCI_COMMAND_MEMORY = 0x2;
/** Command bit: the device may master the bus (start DMA and MSI writes). */
export const PCI_COMMAND_MASTER = 0x4;
/** Command bit: legacy INTx is disabled. */
export const PCI_COMMAND_INTX_DISABLE = 0x400;
/** 16 bits: status register. */
export const PCI_STATUS = 0x06;
/** Status bit: the capability list at PCI_CAPABILITY_LIST is valid. */
export const PCI_STATUS_CAP_LIST = 0x10;
/** Status bit: an INTx interrupt is pending. */
export const PCI_STATUS_INTERRUPT = 0x08;
/** 8 bits: revision id. */
export const PCI_REVISION_ID = 0x08;
/** 8 bits: programming interface (low byte of the class code). */
export const PCI_CLASS_PROG = 0x09;
/** 16 bits: base class and subclass. */
export const PCI_CLASS_DEVICE = 0x0a;
/** 8 bits: header type. */
export const PCI_HEADER_TYPE = 0x0e;
/** 32 bits: BAR0 (BAR1–5 follow every 4 bytes). */
export const PCI_BASE_ADDRESS_0 = 0x10;
/** 16 bits: subsystem vendor id. */
export const PCI_SUBSYSTEM_VENDOR_ID = 0x2c;
/** 16 bits: subsystem id. */
export const PCI_SUBSYSTEM_ID = 0x2e;
/** 8 bits: offset of the first capability. */
export const PCI_CAPABILITY_LIST = 0x34;
/** 8 bits: interrupt line. */
export const PCI_INTERRUPT_LINE = 0x3c;
/** 8 bits: interrupt pin (1 = INTA, 0 = none). */
export const PCI_INTERRUPT_PIN = 0x3d;
/** Capability id of MSI. */
export const PCI_CAP_ID_MSI = 0x05;
/** Capability id of MSI-X. */
export const PCI_CAP_ID_MSIX = 0x11;
/** Capability id of PCI Express. */
export const PCI_CAP_ID_EXP = 0x10;
/** Size of the standard configuration header. */
export const PCI_STD_HEADER_SIZEOF = 64;

/** The constants above by name, for the C-probe test. */
export const PCI_CONSTANTS: Readonly<Record<string, number>> = Object.freeze({
  PCI_VENDOR_ID,
  PCI_DEVICE_ID,
  PCI_COMMAND,
  PCI_COMMAND_IO,
  PCI_COMMAND_MEMORY,
  PCI_COMMAND_MASTER,
  PCI_COMMAND_INTX_DISABLE,
  PCI_STATUS,
  PCI_STATUS_CAP_LIST,
  PCI_STATUS_INTERRUPT,
  PCI_REVISION_ID,
  PCI_CLASS_PROG,
  PCI_CLASS_DEVICE,
  PCI_HEADER_TYPE,
  PCI_BASE_ADDRESS_0,
  PCI_SUBSYSTEM_VENDOR_ID,
  PCI_SUBSYSTEM_ID,
  PCI_CAPABILITY_LIST,
  PCI_INTERRUPT_LINE,
  PCI_INTERRUPT_PIN,
  PCI_CAP_ID_MSI,
  PCI_CAP_ID_MSIX,
  PCI_CAP_ID_EXP,
  PCI_STD_HEADER_SIZEOF,
});
