// swift-tools-version:6.1
//
// libFuzzer targets for LossKit, kept out of the root package so that
// `swift build` there never compiles them. Built and run by `make fuzz`
// (see Fuzz/run.sh): `swift build -c release --sanitize=fuzzer --sanitize=address`.
import PackageDescription

let package = Package(
    name: "LossKitFuzz",
    dependencies: [.package(name: "LossKit", path: "..")],
    targets: [
        // The reference-file reader (JSON) and the verifier on whatever it accepts.
        .executableTarget(
            name: "FuzzReferenceFile",
            dependencies: [.product(name: "ReferenceCases", package: "LossKit"), .product(name: "Loss", package: "LossKit")]
        ),
        // Losses built through LossRegistry from fuzzed names, options, shapes and values;
        // Float compared with Double. LossFuzzInput.swift and Support.swift are symlinks
        // into Tests/_TestSupport, which replays the committed crashers.
        .executableTarget(
            name: "FuzzLoss",
            dependencies: [.product(name: "Loss", package: "LossKit")]
        ),
        // The .npy reader, with a write-and-read-back round trip on whatever it accepts.
        .executableTarget(
            name: "FuzzNPY",
            dependencies: [.product(name: "NumPyFiles", package: "LossKit")]
        ),
    ]
)
