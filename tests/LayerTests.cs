using System.Reflection;
using System.Reflection.Emit;

namespace Farm.Tests;

/// <summary>
/// The layers of farm/ (README "Layout") point one way: Core (namespace <c>Farm</c>) knows nothing of
/// checks, reports or the web; the lab keeps runs without knowing how they are rendered; reports
/// render without knowing the web. Read from the compiled assembly (signatures, attributes and
/// method bodies, compiler-made closures and state machines included), so a fully-qualified name or
/// a <c>using static</c> cannot slip past.
/// </summary>
public class LayerTests
{
    static readonly (string From, string To)[] Forbidden =
    [
        ("Core", "Checks"), ("Core", "Reports"), ("Core", "Web"), ("Core", "Lab"), ("Core", "Cli"),
        ("Checks", "Reports"), ("Checks", "Web"), ("Checks", "Cli"),
        ("Lab", "Reports"), ("Lab", "Web"), ("Lab", "Cli"),
        ("Reports", "Web"), ("Reports", "Cli"),
        ("Jobs", "Reports"), ("Jobs", "Lab"), ("Jobs", "Web"), ("Jobs", "Cli"),
        ("Web", "Cli"),
        ("PowerControl", "Web"), ("PowerControl", "Lab"), ("PowerControl", "Reports"), ("PowerControl", "Cli"),
        // Power backends read their keys through Spec (host:port included) and know no board.
        ("PowerControl", "Jobs"), ("PowerControl", "Boards"),
        ("Serial", "Checks"), ("Serial", "Reports"), ("Serial", "Lab"), ("Serial", "Web"), ("Serial", "Cli"),
        ("Serial", "Spec"), ("Serial", "Jobs"), ("Serial", "Boards"), ("Serial", "Consoles"),
        // Console transports open Serial's streams and read their keys through Spec; boards use them, never the other way round.
        ("Consoles", "Boards"), ("Consoles", "Jobs"), ("Consoles", "Lab"), ("Consoles", "Checks"), ("Consoles", "Reports"),
        ("Consoles", "Web"), ("Consoles", "Cli"), ("Consoles", "PowerControl"), ("PowerControl", "Consoles"),
        // Boards read lab files with the generic reader (Spec); placing a job on a board is the job's business (Jobs).
        ("Boards", "Jobs"), ("Boards", "Lab"), ("Boards", "Reports"), ("Boards", "Web"), ("Boards", "Cli"),
        ("Spec", "Jobs"), ("Spec", "Boards"), ("Spec", "Consoles"), ("Spec", "Lab"), ("Spec", "Reports"), ("Spec", "Web"), ("Spec", "Cli"),
    ];

    /// <summary>Pairs of namespaces (finer than layers) that must not refer to each other that way.</summary>
    static readonly (string From, string To)[] ForbiddenNamespaces =
    [
        // A board is a board in either mode; the lab file's records build on Boards, not the other way round.
        ("Boards", "Boards.Spec"),
    ];

    [Test]
    public void NoLayerReferencesOneAboveIt()
    {
        var edges = LayerGraph.Of(typeof(RunRecord).Assembly);
        var violations = Forbidden
            .Where(f => edges.ContainsKey((f.From, f.To)))
            .Select(f => $"{f.From} -> {f.To}: {string.Join(", ", edges[(f.From, f.To)].Order(StringComparer.Ordinal).Take(8))}")
            .ToList();
        Assert.That(violations, Is.Empty);
    }

    [Test]
    public void NoNamespaceReferencesOneThatBuildsOnIt()
    {
        var edges = LayerGraph.Of(typeof(RunRecord).Assembly, LayerGraph.Namespace);
        var violations = ForbiddenNamespaces
            .Where(f => edges.ContainsKey((f.From, f.To)))
            .Select(f => $"{f.From} -> {f.To}: {string.Join(", ", edges[(f.From, f.To)].Order(StringComparer.Ordinal).Take(8))}")
            .ToList();
        Assert.That(violations, Is.Empty);
    }

    [Test]
    public void TheGraphSeesReferencesInsideMethodBodies()
    {
        // Guards the reader itself: Cli reaches Reports only through calls in method bodies of some commands.
        var edges = LayerGraph.Of(typeof(RunRecord).Assembly);
        Assert.That(edges.Keys, Does.Contain(("Cli", "Reports")).And.Contain(("Web", "Core")));
    }
}

/// <summary>Which layer (first namespace part under <c>Farm</c>; <c>Farm</c> itself is Core) refers to which, with an example each.</summary>
internal static class LayerGraph
{
    internal static string? Layer(Type t)
    {
        while (t.IsNested) t = t.DeclaringType!;
        var ns = t.Namespace;
        if (ns == "Farm") return "Core";
        if (ns is null || !ns.StartsWith("Farm.", StringComparison.Ordinal)) return null;
        var rest = ns["Farm.".Length..];
        var dot = rest.IndexOf('.');
        return dot < 0 ? rest : rest[..dot];
    }

    /// <summary>The namespace under <c>Farm</c> of a type (<c>Boards.Spec</c>), for edges finer than layers.</summary>
    internal static string? Namespace(Type t)
    {
        while (t.IsNested) t = t.DeclaringType!;
        return t.Namespace is { } ns && ns.StartsWith("Farm.", StringComparison.Ordinal) ? ns["Farm.".Length..] : t.Namespace == "Farm" ? "Core" : null;
    }

    internal static Dictionary<(string From, string To), HashSet<string>> Of(Assembly assembly, Func<Type, string?>? layerOf = null)
    {
        layerOf ??= Layer;
        var edges = new Dictionary<(string, string), HashSet<string>>();
        foreach (var type in assembly.GetTypes())
        {
            if (layerOf(type) is not { } from) continue;
            foreach (var (used, where) in References(type))
                foreach (var t in Flatten(used))
                    if (t.Assembly == assembly && layerOf(t) is { } to && to != from)
                    {
                        if (!edges.TryGetValue((from, to), out var set)) edges[(from, to)] = set = [];
                        set.Add($"{Name(type)}.{where} uses {Name(t)}");
                    }
        }
        return edges;
    }

    static string Name(Type t) => t.FullName ?? t.Name;

    static IEnumerable<Type> Flatten(Type? t)
    {
        if (t is null) yield break;
        if (t.HasElementType) { foreach (var e in Flatten(t.GetElementType())) yield return e; yield break; }
        if (t.IsGenericParameter) yield break;
        if (t.IsGenericType)
        {
            yield return t.GetGenericTypeDefinition();
            foreach (var a in t.GetGenericArguments()) foreach (var e in Flatten(a)) yield return e;
            yield break;
        }
        yield return t;
    }

    const BindingFlags All = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly;

    static IEnumerable<(Type, string)> References(Type type)
    {
        yield return (type.BaseType!, "base");
        foreach (var i in type.GetInterfaces()) yield return (i, "interface");
        foreach (var a in type.GetCustomAttributesData()) yield return (a.AttributeType, "attribute");
        foreach (var f in type.GetFields(All))
        {
            yield return (f.FieldType, f.Name);
            foreach (var a in f.GetCustomAttributesData()) yield return (a.AttributeType, f.Name);
        }
        foreach (var p in type.GetProperties(All)) yield return (p.PropertyType, p.Name);
        foreach (var m in type.GetMethods(All).Cast<MethodBase>().Concat(type.GetConstructors(All)))
        {
            if (m is MethodInfo mi) yield return (mi.ReturnType, m.Name);
            foreach (var p in m.GetParameters()) yield return (p.ParameterType, m.Name);
            foreach (var t in BodyReferences(m)) yield return (t, m.Name);
        }
    }

    static readonly Dictionary<short, OpCode> OpCodesByValue = typeof(OpCodes)
        .GetFields(BindingFlags.Public | BindingFlags.Static)
        .Select(f => (OpCode)f.GetValue(null)!)
        .ToDictionary(o => o.Value);

    /// <summary>The types named by the tokens of a method body (calls, field access, new, casts, typeof, locals).</summary>
    static IEnumerable<Type> BodyReferences(MethodBase m)
    {
        MethodBody? body;
        try { body = m.GetMethodBody(); } catch (BadImageFormatException) { yield break; }
        if (body is null) yield break;
        foreach (var l in body.LocalVariables) yield return l.LocalType;
        var il = body.GetILAsByteArray() ?? [];
        var typeArgs = m.DeclaringType is { IsGenericType: true } d ? d.GetGenericArguments() : null;
        var methodArgs = m.IsGenericMethod ? m.GetGenericArguments() : null;
        for (var i = 0; i < il.Length;)
        {
            short value = il[i++];
            if (value == 0xFE) value = (short)(0xFE00 | il[i++]);
            var op = OpCodesByValue[value];
            var size = op.OperandType switch
            {
                OperandType.InlineNone => 0,
                OperandType.ShortInlineBrTarget or OperandType.ShortInlineI or OperandType.ShortInlineVar => 1,
                OperandType.InlineVar => 2,
                OperandType.InlineI8 or OperandType.InlineR => 8,
                OperandType.InlineSwitch => 4 + 4 * BitConverter.ToInt32(il, i),
                _ => 4,
            };
            if (op.OperandType is OperandType.InlineMethod or OperandType.InlineField or OperandType.InlineType or OperandType.InlineTok)
            {
                MemberInfo? member = null;
                try { member = m.Module.ResolveMember(BitConverter.ToInt32(il, i), typeArgs, methodArgs); }
                catch (ArgumentException) { }
                switch (member)
                {
                    case Type t: yield return t; break;
                    case FieldInfo f: yield return f.DeclaringType!; yield return f.FieldType; break;
                    case MethodBase mb:
                        yield return mb.DeclaringType!;
                        if (mb is MethodInfo { IsGenericMethod: true } g) foreach (var a in g.GetGenericArguments()) yield return a;
                        break;
                }
            }
            i += size;
        }
    }
}
