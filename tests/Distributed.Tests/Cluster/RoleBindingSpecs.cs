using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Akka.Actor;
using Distributed.Shared.Cluster;
using Distributed.Shared.Data;
using Distributed.Shared.Protocol;
using Distributed.Worker;
using static Distributed.Shared.Protocol.CoordinatorProtocol;
using static Distributed.Shared.Protocol.WorkerProtocol;
using Distributed.Shared.Security;

namespace Distributed.Tests.Cluster;

/// <summary>
/// Certificates are bound to roles: any certificate of the cluster's CA may join as a worker, but a
/// worker accepts a coordinator only when its Welcome is signed by a coordinator certificate over
/// the worker's challenge, the coordinator's address, the run and the data-plane ticket.
/// </summary>
public sealed class RoleBindingSpecs : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("roles-").FullName;
    private readonly TlsSettings _coordinator, _worker, _foreignCoordinator;

    public RoleBindingSpecs()
    {
        _coordinator = TlsSpecs.MakeCertificates(_folder, "ca", "boss", Roles.Coordinator);
        _worker = TlsSpecs.MakeCertificates(_folder, "ca", "w1");
        _foreignCoordinator = TlsSpecs.MakeCertificates(_folder, "other-ca", "boss", Roles.Coordinator);
    }

    public void Dispose() => Directory.Delete(_folder, true);

    private static readonly WelcomeClaim Claim = new("00ff", "akka.ssl.tcp://distributed@10.0.0.5:4053", "run-1", "w1", new DataPlaneTicket("10.0.0.5", 4100, "T0KEN"));

    /// <summary>What a member holding only <paramref name="tls"/>'s key can sign: the attack the binding must stop.</summary>
    private static CoordinatorProof SignedWith(TlsSettings tls, WelcomeClaim claim)
    {
        var (certificate, _) = tls.Load();
        using var rsa = certificate.GetRSAPrivateKey()!;
        return new CoordinatorProof(Convert.ToBase64String(certificate.RawData),
            Convert.ToBase64String(rsa.SignData(claim.ToBytes(), HashAlgorithmName.SHA256, RSASignaturePadding.Pss)));
    }

    [Fact]
    public void Make_certs_should_write_the_role_into_each_certificate()
    {
        Assert.Equal(Roles.Coordinator, CertificateRole.Of(_coordinator.Load().Certificate));
        Assert.Equal(Roles.Worker, CertificateRole.Of(_worker.Load().Certificate));
    }

    [Fact]
    public void A_proof_from_the_coordinator_certificate_should_be_accepted()
    {
        var proof = CoordinatorIdentity.Load(_coordinator).Prove(Claim);
        Assert.Null(CoordinatorVerifier.For(_worker)!.Check(proof, Claim));
    }

    [Fact]
    public void A_worker_certificate_should_not_pass_as_the_coordinator()
    {
        var verifier = CoordinatorVerifier.For(_worker)!;
        string? problem = verifier.Check(SignedWith(_worker, Claim), Claim);
        Assert.NotNull(problem);
        Assert.Contains("a worker certificate", problem);
        Assert.Contains("not a coordinator's", problem);
    }

    [Fact]
    public void A_proof_for_another_challenge_address_run_or_ticket_should_be_refused()
    {
        var verifier = CoordinatorVerifier.For(_worker)!;
        var proof = CoordinatorIdentity.Load(_coordinator).Prove(Claim);
        foreach (var other in new[]
        {
            Claim with { Challenge = "00fe" },                                             // replayed to another worker or registration
            Claim with { CoordinatorAddress = "akka.ssl.tcp://distributed@10.0.0.9:4053" }, // relayed by another member
            Claim with { RunId = "run-2" },
            Claim with { WorkerName = "w2" },
            Claim with { Ticket = new DataPlaneTicket("10.0.0.9", 4100, "T0KEN") },        // tensors redirected
            Claim with { Ticket = null },
        })
            Assert.Contains("signature does not match", verifier.Check(proof, other));
    }

    [Fact]
    public void A_missing_malformed_or_foreign_proof_should_be_refused()
    {
        var verifier = CoordinatorVerifier.For(_worker)!;
        Assert.Contains("no proof", verifier.Check(null, Claim));
        Assert.Contains("malformed", verifier.Check(new CoordinatorProof("not base64!", "x"), Claim));
        Assert.Contains("malformed", verifier.Check(new CoordinatorProof(Convert.ToBase64String([1, 2, 3]), ""), Claim));
        Assert.Contains("not issued by the cluster's CA", verifier.Check(CoordinatorIdentity.Load(_foreignCoordinator).Prove(Claim), Claim));
    }

    [Fact]
    public void A_coordinator_started_with_a_worker_certificate_should_be_refused_naming_the_file()
    {
        var e = Assert.Throws<DataFormatException>(() => CoordinatorIdentity.Load(_worker));
        Assert.Contains("w1.pfx", e.Message);
        Assert.Contains("is a worker certificate", e.Message);
        Assert.Contains("--coordinator", e.Message);
    }

    /// <summary>A member with a valid worker certificate that claims the coordinator role and answers registrations with its own signature.</summary>
    private sealed class PosingCoordinator : ReceiveActor
    {
        public PosingCoordinator(TlsSettings key, Address self, List<string> heard) => Receive<RegisterWorker>(r =>
        {
            lock (heard) heard.Add(r.Name);
            var claim = new WelcomeClaim(r.Challenge, self.ToString(), "stolen-run", r.Name, null);
            Sender.Tell(new Welcome("stolen-run", new ModelSpec(784, [8], 10), new DataSpec(64, "ff"), 1, Proof: SignedWith(key, claim)));
        });
    }

    [Fact]
    public async Task A_worker_should_refuse_a_member_posing_as_coordinator_with_a_worker_certificate()
    {
        var data = TestData.Subset(64, 10);
        var log = new List<string>();
        var heard = new List<string>();
        var impostor = new ClusterSettings(Roles.Coordinator, Tls: _worker).CreateSystem();
        var cluster = Akka.Cluster.Cluster.Get(impostor);
        cluster.Join(cluster.SelfAddress);
        impostor.ActorOf(Props.Create(() => new PosingCoordinator(_worker, cluster.SelfAddress, heard)), "coordinator");
        var honest = WorkerNode.Start(new ClusterSettings(Roles.Worker, SeedNodes: [cluster.SelfAddress.ToString()], Tls: _worker),
            new WorkerActor.Settings("honest", data.Train, 1, l => { lock (log) log.Add(l); }, AkkaRemoteTransport.Instance));
        try
        {
            var deadline = DateTime.UtcNow.AddSeconds(60);
            while (DateTime.UtcNow < deadline && !Logged(log, "refused")) await Task.Delay(100);
            lock (log)
            {
                var refusal = Assert.Single(log, l => l.Contains("refused"));
                Assert.Contains($"refused {cluster.SelfAddress} as coordinator", refusal);
                Assert.Contains("a worker certificate", refusal);
                Assert.DoesNotContain(log, l => l.Contains("joined run"));
            }
            int asked;
            lock (heard) asked = heard.Count;
            Assert.True(asked >= 1);
            await Task.Delay(2500); // registration retries every second: a refused member is not asked again
            lock (heard) Assert.Equal(asked, heard.Count);
        }
        finally
        {
            await Task.WhenAll(honest.Terminate(), impostor.Terminate());
        }
    }

    private static bool Logged(List<string> log, string text)
    {
        lock (log) return log.Any(l => l.Contains(text));
    }
}
