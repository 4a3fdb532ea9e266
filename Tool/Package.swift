// swift-tools-version:6.1
//
// The `losskit` command-line tool (tour, train, plot, eval, verify, bench), as a
// nested package: swift-argument-parser is a dependency of the tool only, so a
// package that depends on LossKit's libraries never resolves or builds it. The tool
// links LossDistributed (Open MPI): under `mpirun`, eval, train and bench run on
// every rank; without it, as one process.
//
//   swift run --package-path Tool -c release losskit --help
import Foundation
import PackageDescription

// A path dependency's identity is its folder's name, which differs between clones.
let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().lastPathComponent

let package = Package(
    name: "LossKitTool",
    products: [
        .executable(name: "losskit", targets: ["losskit"]),
    ],
    dependencies: [
        .package(path: ".."),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
    ],
    targets: [
        // A small SVG writer and line chart for the tool's plots.
        .target(name: "SVGCharts"),
        .executableTarget(
            name: "losskit",
            dependencies: [
                .product(name: "Loss", package: root),
                .product(name: "ReferenceCases", package: root),
                .product(name: "NumPyFiles", package: root),
                .product(name: "LossDistributed", package: root),
                "SVGCharts",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ]
        ),
        .testTarget(
            name: "losskitTests",
            dependencies: [
                "losskit", "SVGCharts",
                .product(name: "Loss", package: root),
                .product(name: "NumPyFiles", package: root),
            ]
        ),
    ]
)
