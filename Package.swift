// swift-tools-version:6.1
//
// LossKit: neural-network loss functions with PyTorch's semantics, hand-written
// backward passes and fused kernels, on the CPU.
//
// The library depends on the toolchain and on OpenBLAS/LAPACKE only. Benchmarks
// live in the nested package `Benchmarks/` so that package-benchmark is not a
// dependency of anyone who depends on LossKit.
import PackageDescription

let package = Package(
    name: "LossKit",
    products: [
        .library(name: "Loss", targets: ["Loss"]),
        .library(name: "Kernels", targets: ["Kernels"]),
        .library(name: "ReferenceCases", targets: ["ReferenceCases"]),
        .library(name: "NumPyFiles", targets: ["NumPyFiles"]),
        .executable(name: "losskit", targets: ["losskit"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // Debian's libopenblas-dev and liblapacke-dev, found through pkg-config.
        .systemLibrary(
            name: "COpenBLAS",
            pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev", "liblapacke-dev", "pkg-config"])]
        ),
        // Private C shim with the numeric kernels; no stable API.
        .target(name: "CLossKernels"),
        .target(name: "Kernels", dependencies: ["CLossKernels", "COpenBLAS"]),
        .target(name: "Loss", dependencies: ["Kernels"]),
        .target(name: "ReferenceCases", dependencies: ["Loss"]),
        // Bounds-checked reader and writer of NumPy .npy files (no dependency on the loss layer).
        .target(name: "NumPyFiles"),
        // A small SVG writer and line chart for the command-line tool's plots.
        .target(name: "SVGCharts"),
        .executableTarget(
            name: "losskit",
            dependencies: [
                "Loss", "ReferenceCases", "NumPyFiles", "SVGCharts",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        // Release-mode memory and timing measurements of LinearCrossEntropyLoss (not part of the tests).
        .executableTarget(name: "linear-ce-bench", dependencies: ["Loss", "CLossKernels"]),
        .target(name: "_TestSupport", dependencies: ["Loss"], path: "Tests/_TestSupport"),
        .testTarget(name: "KernelsTests", dependencies: ["Kernels", "_TestSupport"]),
        .testTarget(name: "LossTests", dependencies: ["Loss", "_TestSupport"]),
        .testTarget(name: "ReferenceCasesTests", dependencies: ["ReferenceCases", "Loss", "_TestSupport"]),
        .testTarget(name: "losskitTests", dependencies: ["losskit", "_TestSupport", "NumPyFiles", "SVGCharts"]),
    ]
)
