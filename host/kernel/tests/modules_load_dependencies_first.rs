//! MODALIAS resolves through modules.alias, and modules.dep puts every
//! dependency before the module that needs it (the verified chain:
//! virtio_mmio after virtio_ring, then virtio).

use ente_kernel::modules::{ModuleIndex, module_name};

fn index() -> (tempfile::TempDir, ModuleIndex) {
    let dir = tempfile::tempdir().expect("dir");
    std::fs::write(
        dir.path().join("modules.dep"),
        "kernel/drivers/acpi/button.ko:\n\
         kernel/drivers/input/evdev.ko:\n\
         kernel/drivers/virtio/virtio.ko:\n\
         kernel/drivers/virtio/virtio_ring.ko:\n\
         kernel/drivers/virtio/virtio_mmio.ko: kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko\n\
         kernel/drivers/block/virtio_blk.ko: kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko\n",
    )
    .expect("dep");
    std::fs::write(
        dir.path().join("modules.alias"),
        "# Aliases extracted from modules themselves.\n\
         alias acpi*:PNP0C0C:* button\n\
         alias acpi*:LNRO0005:* virtio_mmio\n\
         alias virtio:d00000002v* virtio_blk\n\
         alias input:b*v*p*e*-e*k*r*a*m*l*s*f*w* evdev\n",
    )
    .expect("alias");
    let index = ModuleIndex::open(dir.path()).expect("index");
    (dir, index)
}

#[test]
fn modalias_of_each_verified_device_finds_its_module() {
    let (_d, index) = index();
    assert_eq!(index.matching("acpi:PNP0C0C:"), ["button"]);
    assert_eq!(index.matching("acpi:LNRO0005:"), ["virtio_mmio"]);
    assert_eq!(index.matching("virtio:d00000002v554D4551"), ["virtio_blk"]);
    assert_eq!(
        index.matching("input:b0019v0000p0001e0000-e0,1,k74,ramlsfw"),
        ["evdev"]
    );
    assert!(index.matching("pci:v00008086d00001234").is_empty());
}

#[test]
fn dependencies_load_first_in_the_verified_order() {
    let (_d, index) = index();
    assert_eq!(
        index.load_order("virtio_mmio").expect("order"),
        ["virtio_ring", "virtio", "virtio_mmio"]
    );
    assert_eq!(index.load_order("button").expect("order"), ["button"]);
    assert!(index.load_order("nonexistent").is_err());
}

#[test]
fn module_names_treat_dash_and_underscore_alike() {
    assert_eq!(
        module_name("kernel/drivers/hid/hid-generic.ko"),
        "hid_generic"
    );
    assert_eq!(module_name("kernel/fs/ext4/ext4.ko.xz"), "ext4");
}
