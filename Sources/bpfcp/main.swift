import BpfcpCore
import Foundation

let version = "0.1.0"

/// Splits global options (-j/--json) from the command's own arguments.
func splitGlobal(_ args: [String]) -> (GlobalOptions, [String]) {
    var options = GlobalOptions()
    var rest: [String] = []
    for arg in args {
        if arg == "-j" || arg == "--json" {
            options.json = true
        } else {
            rest.append(arg)
        }
    }
    return (options, rest)
}

func printHelp() {
    var lines = [
        "bpfcp \(version): inspect and checkpoint Linux processes through eBPF",
        "",
        "usage: bpfcp [-j|--json] COMMAND [ARGS]",
        "",
        "commands:",
    ]
    for command in commands {
        lines.append("  " + command.name.padding(toLength: 10, withPad: " ", startingAt: 0) + command.summary)
    }
    lines += ["", "options:", "  -j, --json   print JSON (errors too), with a schema_version field",
              "  -h, --help   show help; `bpfcp COMMAND --help` shows a command's usage",
              "  --version    print the version", "",
              "Run `bpfcp check` to see which kernel features are present and how to fix missing ones."]
    print(lines.joined(separator: "\n"))
}

func main() -> Int32 {
    let (options, args) = splitGlobal(Array(CommandLine.arguments.dropFirst()))
    let output = Output(json: options.json)

    guard let name = args.first, name != "-h", name != "--help", name != "help" else {
        printHelp()
        return args.isEmpty ? 2 : 0
    }
    if name == "--version" || name == "-V" {
        print("bpfcp \(version)")
        return 0
    }
    guard let command = commands.first(where: { $0.name == name }) else {
        output.error(BpfcpError("usage", "unknown command '\(Escape.text(name))': run `bpfcp --help` for the list"))
        return 2
    }

    let rest = Array(args.dropFirst())
    if rest.contains("-h") || rest.contains("--help") {
        print(command.usage)
        return 0
    }
    do {
        if command.needsRoot { try requireRoot("bpfcp \(command.name)") }
        return try command.run(rest, options, output)
    } catch let error as BpfcpError {
        output.error(error)
        return 1
    } catch {
        output.error(BpfcpError("internal", "\(error)"))
        return 1
    }
}

exit(main())
